"""Certificates: the record a completed course earns, and how it is shown.

A certificate is created exactly once per (user, course): the unique index on that pair turns
a second attempt (two last lessons completed at the same moment) into a no-op. Its id is the
prefix, a dash and 10 Crockford base32 characters from ``secrets`` (50 bits), so the public
lookup cannot be enumerated.

The record starts ``pending``; the worker renders it (see ``lms.issuing``).
"""
import secrets

from pymongo.errors import DuplicateKeyError

from . import audit
from .db import iso, new_id, now
from .errors import NotFound

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
STATUSES = ("pending", "rendering", "active", "revoked", "failed")


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
    stamp = now()
    for _ in range(5):
        cert = {"_id": new_id(), "certId": new_cert_id(prefix), "userId": user["_id"],
                "courseId": course["_id"], "studentName": user["name"], "courseTitle": course["title"],
                "status": "pending", "attempts": 0, "nextAttemptAt": stamp, "createdAt": stamp,
                "issuedAt": None, "pdfUrl": None, "hash": None, "emailStatus": None}
        try:
            db.certificates.insert_one(cert)
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


def public(cert, public_url):
    """The verification shape (DESIGN §9), shown to anyone holding the id."""
    shown = {"certId": cert["certId"], "student": {"id": cert["userId"], "name": cert["studentName"]},
             "course": {"id": cert["courseId"], "title": cert["courseTitle"]},
             "issuedAt": iso(cert.get("issuedAt")), "pdfUrl": cert.get("pdfUrl"),
             "status": cert["status"], "hash": cert.get("hash"),
             "verifyUrl": f"{public_url}/verify/{cert['certId']}"}
    if cert["status"] == "revoked":
        shown.update(revokedAt=iso(cert.get("revokedAt")), revokeReason=cert.get("revokeReason"))
    return shown


def mine(db, user_id, public_url):
    return [public(c, public_url) for c in
            db.certificates.find({"userId": user_id}).sort([("createdAt", -1), ("_id", -1)])]
