"""Health and the API description.

``/api/health`` is public (load balancers and uptime checks call it without a session), so what
anyone sees is only whether the service works: ``db`` (reachable, its latency) and ``worker``
(whether this process runs one, whether any worker's heartbeat is fresh). The rest is for staff,
signed in: the worker's id and heartbeat, the queues' depths and ages, the host name, process
id and the versions of the service, Python and the libraries it runs on, and the database
server's version. Those help an operator and an attacker alike.

What anyone sees comes from ``runtime.readiness`` (``lms.worker.monitoring.Readiness``): a check
made in the background at most a second ago, whose time is ``db.checkedAt``; the request itself
touches no database. Staff's details (a person asks, not a load balancer) are read when asked.
"""
import os
import platform
import socket

import bottle
import gevent
import pymongo
from pymongo.errors import PyMongoError

from .. import __version__
from ..web.guard import ALLOWED
from ..web.plugin import respond
from ..worker import monitoring

DETAILS_SECONDS = 2.0  # staff's details that hang are worse than a 503


def health(runtime, user):
    """Database latency and whether a worker is alive for anyone; for staff also the worker's
    details, the work queues' depth and oldest age, and where and what is running. 503 only
    when the database does not answer."""
    staff = bool(user and user["role"] in ALLOWED["staff"])
    worker = runtime.worker.status() if runtime.worker else {"running": False}
    checked, details = runtime.readiness.current(), {}
    if checked and staff:
        try:
            with pymongo.timeout(DETAILS_SECONDS):
                details = _details(runtime)
        except PyMongoError:
            checked = None
    if checked is None:
        return respond(503, {"ok": False, "error": {"code": "database_unavailable",
                                                    "message": "The database does not answer"},
                             "db": {"ok": False}, "worker": _worker(worker, None, staff)})
    return {"db": {"ok": True, "latencyMs": checked.latency_ms, "checkedAt": checked.checked_at},
            "worker": _worker(worker, checked.heartbeat, staff), **details}


def _worker(status, heartbeat, staff):
    if staff:
        return {**status, "heartbeat": heartbeat}
    return {"running": status["running"], "alive": bool(heartbeat and heartbeat["alive"])}


def _details(runtime):
    return {"queues": monitoring.queues(runtime.db), "host": socket.gethostname(), "pid": os.getpid(),
            "versions": {"lms": __version__, "python": platform.python_version(), "bottle": bottle.__version__,
                         "gevent": gevent.__version__, "pymongo": pymongo.__version__,
                         "database": runtime.db.client.server_info().get("version")}}


def openapi(runtime):
    # The document itself, not wrapped in the {"ok": true} envelope: tools read it as it is.
    bottle.response.content_type = "application/json"
    return runtime.api_text
