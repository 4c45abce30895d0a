"""The audit trail: who did what to which object, when, from where.

Domain functions that change data call ``record`` themselves, right after the change, so no
handler can forget it. ``Actor`` carries the who and the where (a user, ``system`` or
``razorpay``; the client IP and request id) into domain code without it knowing about HTTP.
"""
from dataclasses import dataclass

from .db import iso, new_id, now


@dataclass(frozen=True)
class Actor:
    id: str
    role: str = "system"
    ip: str = None
    request_id: str = None

    @property
    def staff(self):
        return self.role in ("instructor", "admin")


SYSTEM = Actor("system")


def record(db, actor, action, target_type, target_id, **details):
    entry = {"_id": new_id(), "action": action, "actorId": actor.id, "actorRole": actor.role,
             "targetType": target_type, "targetId": target_id, "timestamp": now(),
             "details": details, "ip": actor.ip, "requestId": actor.request_id}
    db.auditLogs.insert_one(entry)
    return entry


def public(entry):
    return {"id": entry["_id"], "action": entry["action"], "actorId": entry["actorId"],
            "actorRole": entry.get("actorRole"), "targetType": entry["targetType"],
            "targetId": entry["targetId"], "timestamp": iso(entry["timestamp"]),
            "details": entry.get("details") or {}, "ip": entry.get("ip"),
            "requestId": entry.get("requestId")}
