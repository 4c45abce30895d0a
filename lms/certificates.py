"""Certificates: the record a completed course earns, and how it is shown.

A certificate is created exactly once per (user, course): the unique index on that pair turns
a second attempt (two last lessons completed at the same moment) into a no-op. Its id is the
prefix, a dash and 10 Crockford base32 characters from ``secrets`` (50 bits), so the public
lookup cannot be enumerated.

The record starts ``pending``; the worker renders it (see ``lms.issuing``) and it becomes
``active``, or ``failed`` after five attempts. Staff can re-issue it (a new render under the
same certId) and admins can revoke it; a revoked certificate stays verifiable and says so.

Publicly (the verification API and page) ``rendering`` and ``failed`` read as ``pending``: the
student earned the certificate and it is not issued yet; why not is the admins' business
(``admin`` shows the real status, the attempts and the last error).

Expiry: when the course sets ``certificateValidityDays`` the worker stores ``expiresAt`` at the
first issue (a snapshot, like the names: changing the course later changes no certificate, and
a re-issue keeps both dates). ``expired`` is never stored: it is judged against the clock at
every read, from ``expiresAt`` on, and a revocation wins over it.

Beyond the lookup by id: ``sign_credential`` gives an issued certificate as a signed Open
Badges 3.0 credential (``lms.credentials``), ``match_pdf`` finds the certificate whose PDF is
exactly the given bytes, and ``shared`` adds the LinkedIn Add-to-Profile link.
"""
import hashlib
import secrets
from urllib.parse import quote, urlencode

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from . import audit, credentials, files, notifications
from .db import iso, new_id, now, paginate
from .errors import BadRequest, Conflict, Forbidden, NotFound

LINKEDIN_ADD = "https://www.linkedin.com/profile/add"

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
STATUSES = ("pending", "rendering", "active", "revoked", "failed")
PUBLIC_STATUS = {"pending": "pending", "rendering": "pending", "failed": "pending",
                 "active": "active", "revoked": "revoked"}


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


def verify_url(public_url, cert_id):
    return f"{public_url}/verify/{cert_id}"


def public_status(cert, at=None):
    """``active``, ``revoked``, ``expired`` or ``pending``, as anyone is told at ``at`` (now)."""
    status = PUBLIC_STATUS[cert["status"]]
    expires = cert.get("expiresAt")
    if status == "active" and expires and (at or now()) >= expires:
        return "expired"
    return status


def public(cert, public_url):
    """The verification shape (DESIGN §9), shown to anyone holding the id. Only an issued
    (active, expired or revoked) certificate shows its dates, PDF and hash."""
    status = public_status(cert)
    issued = status != "pending"
    shown = {"certId": cert["certId"], "student": {"id": cert["userId"], "name": cert["studentName"]},
             "course": {"id": cert["courseId"], "title": cert["courseTitle"]},
             "issuedAt": iso(cert.get("issuedAt")) if issued else None,
             "expiresAt": iso(cert.get("expiresAt")) if issued else None,
             "pdfUrl": cert.get("pdfUrl") if issued else None, "status": status,
             "hash": cert.get("hash") if issued else None,
             "verifyUrl": verify_url(public_url, cert["certId"])}
    if status == "revoked":
        shown.update(revokedAt=iso(cert.get("revokedAt")), revokeReason=cert.get("revokeReason"))
    return shown


def shared(cert, settings):
    """The verification shape plus ``share``: the links that put an active certificate on a
    profile elsewhere (None for any other status: nobody should add a revoked one)."""
    shown = public(cert, settings.public_url)
    shown["share"] = {"linkedin": linkedin_url(cert, settings)} if shown["status"] == "active" else None
    return shown


def linkedin_url(cert, settings):
    """LinkedIn's Add-to-Profile link, which fills in the "Licenses & certifications" form.

    The organisation is named by its numeric LinkedIn id when ``LMS_LINKEDIN_ORG_ID`` is set
    (LinkedIn then shows its logo and links the page), else by ``LMS_ORG_NAME``.
    """
    issued, expires = cert["issuedAt"], cert.get("expiresAt")
    params = {"startTask": "CERTIFICATION_NAME", "name": cert["courseTitle"]}
    if settings.linkedin_org_id:
        params["organizationId"] = settings.linkedin_org_id
    else:
        params["organizationName"] = settings.org_name
    params.update(issueYear=issued.year, issueMonth=issued.month)
    if expires:
        params.update(expirationYear=expires.year, expirationMonth=expires.month)
    params.update(certUrl=verify_url(settings.public_url, cert["certId"]), certId=cert["certId"])
    return f"{LINKEDIN_ADD}?{urlencode(params, quote_via=quote)}"


def status_report(cert):
    """What a verifier checks (a credential's ``credentialStatus`` points here): the status
    right now, when and why it was revoked, until when it is valid."""
    at = now()
    status = public_status(cert, at)
    report = {"certId": cert["certId"], "status": status}
    if status == "revoked":
        report.update(revokedAt=iso(cert.get("revokedAt")), revokeReason=cert.get("revokeReason"))
    if status != "pending" and cert.get("expiresAt"):
        report["expiresAt"] = iso(cert["expiresAt"])
    report["checkedAt"] = iso(at)
    return report


def sign_credential(db, settings, cert):
    """(the Open Badges 3.0 credential, the same signed as a compact VC-JWT) for an issued
    certificate, active, expired or revoked alike: its ``credentialStatus`` tells which.

    Signed at each request from the record (Ed25519 signatures are deterministic, so the same
    record gives the same JWT); the names and dates are the ones snapshotted at issue.
    """
    if public_status(cert) == "pending" or not (cert.get("issuedAt") and cert.get("hash")):
        raise Conflict("This certificate is not issued yet", code="not_issued")
    course = db.courses.find_one({"_id": cert["courseId"]},
                                 {"slug": 1, "description": 1, "requiresProject": 1}) or {}
    credential = credentials.build(cert={**cert, "issuedAt": iso(cert["issuedAt"])}, course=course,
                                   public_url=settings.public_url, org_name=settings.org_name,
                                   expires_at=iso(cert.get("expiresAt")))
    return credential, credentials.Keyring.from_settings(settings).sign(credential)


def match_pdf(db, pdf):
    """The certificate whose PDF is exactly the bytes ``pdf`` (by SHA-256), or None; 400 for an
    empty file or one that is not a PDF."""
    if not pdf:
        raise BadRequest("The file is empty", code="empty_file", fields={"file": "is empty"})
    kind = files.sniff(pdf)
    if not kind or kind[0] != "application/pdf":
        raise BadRequest("The file is not a PDF", code="not_a_pdf", fields={"file": "must be a PDF"})
    return db.certificates.find_one({"hash": hashlib.sha256(pdf).hexdigest()})


def admin(cert, public_url):
    """Everything staff need to see why a certificate is where it is."""
    return {"id": cert["_id"], "certId": cert["certId"], "userId": cert["userId"],
            "courseId": cert["courseId"], "studentName": cert["studentName"],
            "courseTitle": cert["courseTitle"], "status": cert["status"], "pdfUrl": cert.get("pdfUrl"),
            "storageKey": cert.get("storageKey"), "hash": cert.get("hash"),
            "issuedAt": iso(cert.get("issuedAt")), "expiresAt": iso(cert.get("expiresAt")),
            "renderedAt": iso(cert.get("renderedAt")),
            "createdAt": iso(cert["createdAt"]), "attempts": cert.get("attempts", 0),
            "nextAttemptAt": iso(cert.get("nextAttemptAt")), "lastError": cert.get("lastError"),
            "emailStatus": cert.get("emailStatus"), "revokedAt": iso(cert.get("revokedAt")),
            "revokedBy": cert.get("revokedBy"), "revokeReason": cert.get("revokeReason"),
            "verifyUrl": verify_url(public_url, cert["certId"])}


def mine(db, user_id, public_url):
    return [public(c, public_url) for c in
            db.certificates.find({"userId": user_id}).sort([("createdAt", -1), ("_id", -1)])]


def search(db, public_url, *, page, limit, status=None, userId=None, courseId=None):
    """Certificates for staff, newest first; ``status`` is the real one (``failed`` included)."""
    query = {k: v for k, v in (("status", status), ("userId", userId), ("courseId", courseId)) if v}
    return paginate(db.certificates, query, [("createdAt", -1)], page, limit,
                    lambda cert: admin(cert, public_url))


def revoke(db, cert_id, reason, actor):
    """Revoke a certificate in any state, once: a second revocation is a 409 and changes
    nothing (the first reason and date stand). A render in flight cannot undo it: the worker's
    final write only matches a certificate still ``rendering``."""
    stamp = now()
    cert = db.certificates.find_one_and_update(
        {"certId": cert_id, "status": {"$ne": "revoked"}},
        {"$set": {"status": "revoked", "revokedAt": stamp, "revokedBy": actor.id, "revokeReason": reason},
         "$unset": {"leaseUntil": "", "claimedBy": ""}},
        return_document=ReturnDocument.BEFORE)
    if cert is None:
        get(db, cert_id)  # 404 when there is no such certificate
        raise Conflict("This certificate is already revoked", code="already_revoked")
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
    cert = get(db, cert_id)
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
              "reissuedAt": stamp, "reissuedBy": actor.id, **snapshot}
    if cert["status"] == "revoked":
        fields.update(revokedAt=None, revokedBy=None, revokeReason=None)
    # Guarded by the status we judged: a revocation or a claim in between wins, we do not.
    updated = db.certificates.find_one_and_update(
        {"_id": cert["_id"], "status": cert["status"]},
        {"$set": fields, "$unset": {"leaseUntil": "", "claimedBy": ""}},
        return_document=ReturnDocument.AFTER)
    if updated is None:
        raise Conflict("The certificate changed meanwhile; look again and retry", code="certificate_changed")
    changes = {k: {"from": cert[k], "to": v} for k, v in snapshot.items() if cert[k] != v}
    audit.record(db, actor, "certificate.reissue", "certificate", cert_id, previousStatus=cert["status"],
                 previousHash=cert.get("hash"), restored=cert["status"] == "revoked",
                 previousRevokeReason=cert.get("revokeReason"), changes=changes)
    return updated
