"""Certificate records: the one a completed course earns, its id, revocation and re-issue.

A certificate is created exactly once per (user, course): the unique index on that pair turns
a second attempt (two last lessons completed at the same moment) into a no-op. Its id is the
prefix, a dash and 10 Crockford base32 characters from ``secrets`` (50 bits), so the public
lookup cannot be enumerated.

The record starts ``pending``; the worker renders it (see ``issuing``) and it becomes
``active``, or ``failed`` after five attempts. Staff can re-issue it (a new render under the
same certId) and admins can revoke it; a revoked certificate stays verifiable and says so.

How a certificate is shown (publicly, to staff) is ``shapes``.

Expiry: when the course sets ``certificateValidityDays`` the worker stores ``expiresAt`` at the
first issue (a snapshot, like the names: changing the course later changes no certificate, and
a re-issue keeps both dates). ``expired`` is never stored: it is judged against the clock at
every read, from ``expiresAt`` on, and a revocation wins over it.

Beyond the lookup by id, ``match_pdf`` finds the certificate whose PDF is exactly the given bytes.
"""
import hashlib
import re
import secrets

from pymongo.errors import DuplicateKeyError

from .. import audit
from ..accounts import notifications
from ..db import find_one_and_update, new_id, now
from ..pagination import paginate
from ..errors import BadRequest, Conflict, Forbidden, NotFound
from ..adapters.storage import kinds as files
from ..reports import stats
from ..worker.queue import LeasedQueue
from . import stamping

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CERT_ID = re.compile(r"[A-Z0-9]{1,10}-[0-9A-Z]{10}")
STATUSES = ("pending", "rendering", "active", "revoked", "failed")
# The queue of renders is the collection itself (see lms.certificates.issuing); every status
# change it makes, and those below (revoke, re-issue), move the certificate's day count.
JOBS = LeasedQueue("certificates", waiting="pending", running="rendering", done="active",
                   on_move=stats.certificates_moved)


def new_cert_id(prefix):
    return f"{prefix}-" + "".join(secrets.choice(CROCKFORD) for _ in range(10))


def eligible(db, user_id, course):
    """Whether the course's requirements beyond the lessons are met."""
    if not course.get("requiresProject"):
        return True
    return db.submissions.count_documents(
        {"userId": user_id, "courseId": course["_id"], "status": "approved"}, limit=1) > 0


def create_once(db, user, course, *, prefix, actor):
    """Create the certificate record unless it exists. Returns (certificate, created)."""
    for _ in range(5):
        cert = {"_id": new_id(), "certId": new_cert_id(prefix), "userId": user["_id"],
                "courseId": course["_id"], "studentName": user["name"], "courseTitle": course["title"],
                "createdAt": now(), "issuedAt": None, "pdfUrl": None, "hash": None, "emailStatus": None}
        try:
            cert = JOBS.enqueue(db, cert)
        except DuplicateKeyError as exc:
            if "certId" in str(exc.details or exc):
                continue  # a 50-bit collision: draw another id
            return db.certificates.find_one({"userId": user["_id"], "courseId": course["_id"]}), False
        audit.record(db, actor, "certificate.create", "certificate", cert["certId"],
                     courseId=course["_id"], userId=user["_id"])
        return cert, True
    raise RuntimeError("could not draw an unused certificate id")


def get(db, cert_id):
    cert = db.certificates.find_one({"certId": cert_id})
    if not cert:
        raise NotFound("Certificate not found")
    return cert


def find(db, cert_id):
    """The certificate with this id, matched in any case (people retype ids from paper); an id
    that cannot be one is a 404 without a database lookup."""
    cert_id = normalised(cert_id)
    if not CERT_ID.fullmatch(cert_id):
        raise NotFound("Certificate not found")
    return get(db, cert_id)


def normalised(cert_id):
    return cert_id.strip().upper()[:40]


def match_pdf(db, pdf):
    """The certificate whose PDF (or its stamped REVOKED copy) is exactly the bytes ``pdf`` (by
    SHA-256), or None; 400 for an empty file or one that is not a PDF."""
    if not pdf:
        raise BadRequest("The file is empty", code="empty_file", fields={"file": "is empty"})
    kind = files.sniff(pdf)
    if not kind or kind[0] != "application/pdf":
        raise BadRequest("The file is not a PDF", code="not_a_pdf", fields={"file": "must be a PDF"})
    digest = hashlib.sha256(pdf).hexdigest()  # the PDF, or its REVOKED copy: the same certificate
    return db.certificates.find_one({"$or": [{"hash": digest}, {"revokedHash": digest}]})


# Newest first, for the holder and for staff.
SORT = [("createdAt", -1), ("_id", -1)]


def mine(db, user_id, serialize, *, page, limit, cursor=None):
    """The user's certificates, newest first, a page of them."""
    return paginate(db.certificates, {"userId": user_id}, SORT, page, limit, serialize, cursor=cursor, few=True)


def search(db, serialize, *, page, limit, cursor=None, status=None, userId=None, courseId=None):
    """Certificates for staff, newest first; ``status`` is the real one (``failed`` included)."""
    query = {k: v for k, v in (("status", status), ("userId", userId), ("courseId", courseId)) if v}
    return paginate(db.certificates, query, SORT, page, limit, serialize, cursor=cursor)


def revoke(db, cert_id, reason, actor):
    """Revoke a certificate in any state, once: a second revocation is a 409 and changes
    nothing (the first reason and date stand). A render in flight cannot undo it: the worker's
    final write only matches a certificate still ``rendering``. A REVOKED copy not made yet is
    made next, before any waiting render (``stamping``)."""
    stamp = now()
    cert = find_one_and_update(
        db.certificates, {"certId": cert_id, "status": {"$ne": "revoked"}},
        {"$set": {"status": "revoked", "revokedAt": stamp, "revokedBy": actor.id, "revokeReason": reason},
         "$unset": {"leaseUntil": "", "claimedBy": ""}})
    if cert is None:
        get(db, cert_id)  # 404 when there is no such certificate
        raise Conflict("This certificate is already revoked", code="already_revoked")
    stats.certificates_moved(db, [cert], cert["status"], "revoked")
    db.certificateSpool.delete_one({"_id": cert["_id"]})  # an upload still waiting is not needed now
    if cert.get("revokedCopyDue") and stamping.hurry(db, cert):  # its REVOKED copy is not made yet: now
        JOBS.enqueued()
    audit.record(db, actor, "certificate.revoke", "certificate", cert_id, reason=reason,
                 previousStatus=cert["status"], userId=cert["userId"], courseId=cert["courseId"])
    notifications.add(db, cert["userId"], "certificate.revoked", "A certificate was revoked",
                      f"Your certificate {cert_id} for {cert['courseTitle']} was revoked: {reason}")
    return {**cert, "status": "revoked", "revokedAt": stamp, "revokedBy": actor.id, "revokeReason": reason}


def reissue(db, cert_id, actor, *, restore=False):
    """Queue a new render under the same certId: attempts start again from zero, the worker
    makes a new PDF (and so a new hash), and the student's name and the course title are taken
    afresh (a corrected name is the usual reason). The issue date printed on it stays the first
    one. Works for ``active``, ``failed`` and ``pending`` (a retry now, without waiting for the
    backoff); a certificate being rendered right now is a 409.

    A revoked certificate is not silently reinstated: re-issuing it is a 409 unless
    ``restore`` is given, and only an admin (who may revoke) may restore one.
    """
    return requeue(db, get(db, cert_id), actor, restore=restore)


def requeue(db, cert, actor, *, restore=False, batch=None):
    """``reissue`` of one record (``batch``: the bulk re-issue it belongs to)."""
    cert_id = cert["certId"]
    if cert["status"] == "rendering":
        raise Conflict("This certificate is being rendered right now; try again in a moment",
                       code="certificate_rendering")
    if cert["status"] == "revoked" and not restore:
        raise Conflict("This certificate is revoked; re-issue it with restore: true to reinstate it",
                       code="certificate_revoked")
    if cert["status"] == "revoked" and actor.role != "admin":
        raise Forbidden("Only an admin can reinstate a revoked certificate")
    user = db.users.find_one({"_id": cert["userId"]}, {"name": 1})
    course = db.courses.find_one({"_id": cert["courseId"]}, {"title": 1})
    snapshot = {"studentName": user["name"] if user else cert["studentName"],
                "courseTitle": course["title"] if course else cert["courseTitle"]}
    stamp = now()
    fields = {"status": "pending", "attempts": 0, "nextAttemptAt": stamp, "lastError": None,
              "reissuedAt": stamp, "reissuedBy": actor.id, "storageAttempts": 0, "storageFailingSince": None,
              **snapshot, **({"reissueBatch": batch} if batch else {})}
    if cert["status"] == "revoked":  # reinstated: valid again once its new PDF is made, not before
        fields.update(revokedAt=None, revokedBy=None, revokeReason=None, hash=None)
    # Guarded by the status we judged: a revocation or a claim in between wins, we do not.
    updated = find_one_and_update(db.certificates, {"_id": cert["_id"], "status": cert["status"]},
                                  {"$set": fields, "$unset": {"leaseUntil": "", "claimedBy": ""}}, after=True)
    if updated is None:
        raise Conflict("The certificate changed meanwhile; look again and retry", code="certificate_changed")
    stats.certificates_moved(db, [cert], cert["status"], "pending")
    db.certificateSpool.delete_one({"_id": cert["_id"]})  # a re-issue renders afresh
    JOBS.enqueued()
    changes = {k: {"from": cert[k], "to": v} for k, v in snapshot.items() if cert[k] != v}
    audit.record(db, actor, "certificate.reissue", "certificate", cert_id, previousStatus=cert["status"],
                 previousHash=cert.get("hash"), restored=cert["status"] == "revoked",
                 previousRevokeReason=cert.get("revokeReason"), changes=changes, batch=batch)
    return updated
