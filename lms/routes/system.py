"""Health and the API description."""
from pymongo.errors import PyMongoError

from .. import jobs
from ..db import ping_ms
from ..web import respond


def health(runtime):
    worker = runtime.worker.status() if runtime.worker else {"running": False}
    try:
        latency = ping_ms(runtime.db)
        worker["heartbeat"] = jobs.heartbeats(runtime.db)
    except PyMongoError:
        return respond(503, {"ok": False, "db": {"ok": False}, "worker": worker})
    return {"db": {"ok": True, "latencyMs": latency}, "worker": worker}


def openapi(runtime):
    from ..openapi import describe
    from . import ROUTES
    return describe(ROUTES, runtime.settings)
