"""A user's data: everything stored about them as one document, and erasing it.

Export (``GET /api/user/export``): the profile, sessions, enrollments, completed lessons,
submissions (with their file links), certificates, payments, notifications and the audit entries
by or about them, each in the shape the API shows it. What belongs to someone else stays out:
the address an admin acted from is left out of entries the admin wrote.

Deletion (``DELETE /api/user/me {password}``), collection by collection:
- erased: the user document, their sessions, e-mail links and errands, the mail queued to their
  addresses, notifications, completed lessons, submissions and their files (deleted from the
  storage first, so a storage failure leaves the account as it was and the deletion can be
  asked again), and rate-limit counters keyed by their address or id;
- anonymised: audit entries by or about them lose the address they acted from and every mention
  of their e-mail addresses, name and submission links; payments keep what accounting needs
  (amounts, dates, states) and lose Razorpay's copy of the payment, which holds the payer's
  contact details; enrollments keep only ids and progress numbers, which the course statistics
  count;
- certificates keep the name they were issued with and stay verifiable: a certificate is the
  organisation's statement about what someone achieved, and employers may hold its PDF. With
  ``{"revokeCertificates": true}`` they are revoked (reason "account deleted"), so their page says
  so, as for any revoked certificate.
Ids remain in what is kept (enrollments, payments, certificates, audit entries), pointing at
nothing. Counters of a client address are not the account's (many people share an address) and
end within the hour. The deletion itself is audited without anything personal. The last admin
who is not disabled cannot delete their account (409 ``last_admin``).
"""
import re

from .. import audit
from ..certificates import records as certificates
from ..certificates.shapes import PUBLIC_CERTIFICATE
from ..db import now
from ..errors import Conflict
from ..learning.enrollments import ENROLLMENT
from ..learning.submissions import SUBMISSION
from ..payments import PAYMENT
from ..schema import ListOf, Shape, Text, Timestamp
from . import sessions, users
from .notifications import NOTIFICATION

REVOKE_REASON = "account deleted"
ERASED = "[deleted]"

LESSON_COMPLETION = Shape("LessonCompletion", {"courseId": Text(), "moduleId": Text(), "lessonId": Text(),
                                               "completedAt": Timestamp()})
STORED_SESSION = sessions.SESSION.extend("StoredSession", {
    "expiresAt": Timestamp(), "revokedAt": Timestamp(nullable=True)},
    description="A session as stored: its newest token's device and address, and whether it was ended")
EXPORT = Shape("AccountExport", {
    "exportedAt": Timestamp(), "profile": users.USER(), "sessions": ListOf(STORED_SESSION),
    "enrollments": ListOf(ENROLLMENT), "progress": ListOf(LESSON_COMPLETION), "submissions": ListOf(SUBMISSION),
    "certificates": ListOf(PUBLIC_CERTIFICATE), "payments": ListOf(PAYMENT),
    "notifications": ListOf(NOTIFICATION), "auditEntries": ListOf(audit.AUDIT_ENTRY)},
    description="Everything stored about the signed-in user")


def _mine(db, name, user_id, sort="createdAt"):
    return list(db[name].find({"userId": user_id}).sort([(sort, 1), ("_id", 1)]))


def _about(user_id):
    return {"$or": [{"actorId": user_id}, {"targetType": "user", "targetId": user_id}, {"details.userId": user_id}]}


def export(db, user_id, urls, current=None):
    """The whole export document (``EXPORT``)."""
    user = users.get(db, user_id)
    newest = {}
    for session in _mine(db, "sessions", user_id):
        newest[session["familyId"]] = session  # oldest first, so the last one per family stays
    entries = [entry if entry["actorId"] == user_id else {**entry, "ip": None}
               for entry in db.auditLogs.find(_about(user_id)).sort([("timestamp", 1), ("_id", 1)])]
    return EXPORT.dump({
        "exportedAt": now(), "profile": user, "sessions": list(newest.values()),
        "enrollments": _mine(db, "enrollments", user_id, "enrolledAt"),
        "progress": _mine(db, "progress", user_id, "completedAt"), "submissions": _mine(db, "submissions", user_id),
        "certificates": _mine(db, "certificates", user_id), "payments": _mine(db, "payments", user_id),
        "notifications": _mine(db, "notifications", user_id), "auditEntries": entries},
        urls=urls, current=current)


def erase(db, storage, user_id, password, *, revoke_certificates, actor):
    """Delete the account as the module docstring says; returns what became of the certificates."""
    user = users.confirm_password(db, user_id, password)
    if user["role"] == "admin" and not db.users.count_documents(
            {"role": "admin", "disabled": {"$ne": True}, "_id": {"$ne": user_id}}, limit=1):
        raise Conflict("You are the last admin: make someone else an admin first", code="last_admin")
    submissions = _mine(db, "submissions", user_id)
    for submission in submissions:  # first: a storage failure here leaves everything else as it was
        for stored in submission.get("files") or ():
            storage.delete(stored["key"])
    revoked = 0
    if revoke_certificates:
        for cert in db.certificates.find({"userId": user_id, "status": {"$ne": "revoked"}}, {"certId": 1}):
            certificates.revoke(db, cert["certId"], REVOKE_REASON, actor)
            revoked += 1
    changes = db.emailTokens.find({"userId": user_id, "email": {"$exists": True}})
    addresses = {user["email"], *(t["email"] for t in changes)}
    mentions = addresses | {s["submissionUrl"] for s in submissions if s.get("submissionUrl")}
    _anonymise_audit(db, user_id, addresses, mentions, user["name"])
    for name in ("sessions", "emailTokens", "notifications", "progress", "submissions"):
        db[name].delete_many({"userId": user_id})
    db.errands.delete_many({"$or": [{"userId": user_id}, {"email": {"$in": list(addresses)}}]})
    db.mails.delete_many({"to": {"$in": list(addresses)}})
    db.rateLimits.delete_many({"_id": {"$regex": _ends_with([user_id, *addresses])}})
    db.payments.update_many({"userId": user_id}, {"$set": {"rawResponse": None}})
    db.users.delete_one({"_id": user_id})
    kept = db.certificates.count_documents({"userId": user_id, "status": {"$ne": "revoked"}})
    audit.record(db, audit.Actor(user_id, user["role"]), "user.delete", "user", user_id,
                 certificatesRevoked=revoked, certificatesKept=kept)
    return {"certificatesRevoked": revoked, "certificatesKept": kept}


def _ends_with(values):
    return ":(" + "|".join(re.escape(v) for v in values) + ")$"


def _anonymise_audit(db, user_id, addresses, mentions, name):
    """Audit entries by or about the user, and those naming one of their addresses (rate-limit
    trips, staff searches), keep what happened and lose who it was in person."""
    pattern = {"$regex": "|".join(re.escape(a) for a in addresses), "$options": "i"}
    query = {"$or": [*_about(user_id)["$or"], {"targetId": pattern}, {"details.q": pattern}]}
    lowered = {m.lower() for m in mentions}

    def scrub(value):
        if isinstance(value, str):
            return ERASED if value == name or any(m in value.lower() for m in lowered) else value
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        return value

    for entry in db.auditLogs.find(query):
        changes = {"details": scrub(entry.get("details") or {}), "targetId": scrub(entry.get("targetId"))}
        if entry.get("actorId") == user_id:
            changes["ip"] = None
        db.auditLogs.update_one({"_id": entry["_id"]}, {"$set": changes})
