"""Health and the API description."""
import pymongo
from pymongo.errors import PyMongoError

from ..db import ping_ms
from ..worker import monitoring, runner
from ..web.plugin import respond

CHECK_SECONDS = 2.0  # a health check that hangs is worse than one that says 503


def health(runtime):
    """Database latency, the newest worker heartbeat (any process) and its age, and the work
    queues' depth and oldest age; 503 only when the database does not answer."""
    worker = runtime.worker.status() if runtime.worker else {"running": False}
    try:
        latency = ping_ms(runtime.db, CHECK_SECONDS)
        with pymongo.timeout(CHECK_SECONDS):
            worker["heartbeat"] = runner.heartbeats(runtime.db)
            queues = monitoring.queues(runtime.db)
    except PyMongoError:
        return respond(503, {"ok": False, "error": {"code": "database_unavailable",
                                                    "message": "The database does not answer"},
                             "db": {"ok": False}, "worker": worker})
    return {"db": {"ok": True, "latencyMs": latency}, "worker": worker, "queues": queues}


def openapi(runtime):
    # The document itself, not wrapped in the {"ok": true} envelope: tools read it as it is.
    return respond(200, runtime.api_description)
