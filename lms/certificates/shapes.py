"""How a certificate is shown: to anyone holding its id, to staff, and to a status check.

Publicly (the verification API and page) ``rendering`` and ``failed`` read as ``pending``: the
student earned the certificate and it is not issued yet; why not is the admins' business
(``admin`` shows the real status, the attempts and the last error). ``expired`` is judged
against the clock at every read, and a revocation wins over it.

Links come from the ``Urls`` passed in (``lms.web.urls``): the verify page is the route
``certificates_verify_page``.
"""
from ..db import iso, now
from . import sharing

PUBLIC_STATUS = {"pending": "pending", "rendering": "pending", "failed": "pending",
                 "active": "active", "revoked": "revoked"}


def verify_url(urls, cert_id):
    return urls.url_for("certificates_verify_page", certId=cert_id)


def public_status(cert, at=None):
    """``active``, ``revoked``, ``expired`` or ``pending``, as anyone is told at ``at`` (now)."""
    status = PUBLIC_STATUS[cert["status"]]
    expires = cert.get("expiresAt")
    if status == "active" and expires and (at or now()) >= expires:
        return "expired"
    return status


def public(cert, urls):
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
             "verifyUrl": verify_url(urls, cert["certId"])}
    if status == "revoked":
        shown.update(revokedAt=iso(cert.get("revokedAt")), revokeReason=cert.get("revokeReason"))
    return shown


def shared(cert, urls, organisation):
    """The verification shape plus ``share``: the links that put an active certificate on a
    profile elsewhere (None for any other status: nobody should add a revoked one).
    ``organisation`` is ``sharing.Organisation``."""
    shown = public(cert, urls)
    shown["share"] = ({"linkedin": sharing.linkedin_url(cert, shown["verifyUrl"], organisation)}
                      if shown["status"] == "active" else None)
    return shown


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


def admin(cert, urls):
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
            "verifyUrl": verify_url(urls, cert["certId"])}
