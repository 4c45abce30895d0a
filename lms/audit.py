"""The audit trail: who did what to which object, when, from where.

Domain functions that change data call ``record`` themselves, right after the change, so no
handler can forget it. ``Actor`` carries the who and the where (a user, ``system`` or
``razorpay``; the client IP and request id) into domain code without it knowing about HTTP.
"""
from dataclasses import dataclass

from .db import new_id, now
from .schema import Anything, Shape, Text, Timestamp


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


AUDIT_ENTRY = Shape("AuditEntry", {
    "id": Text("_id"), "action": Text(description="course.create, certificate.revoke, payment.captured, ..."),
    "actorId": Text(description="a user id, system or razorpay"), "actorRole": Text(nullable=True),
    "targetType": Text(), "targetId": Text(nullable=True), "timestamp": Timestamp(),
    "details": Anything(get=lambda entry, _: entry.get("details") or {}),
    "ip": Text(nullable=True), "requestId": Text(nullable=True)})
public = AUDIT_ENTRY.dump
