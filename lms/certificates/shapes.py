"""How a certificate is shown: to anyone holding its id, to staff, and to a status check.

Publicly (the verification API and page) ``rendering`` and ``failed`` read as ``pending``: the
student earned the certificate and it is not issued yet; why not is the admins' business
(``admin`` shows the real status, the attempts and the last error). A certificate being
re-issued was issued already: until its new PDF is ready it stays ``active`` with the PDF and
hash it had, so an employer checking it meanwhile (or for good, should the re-render fail) is
never told it is not issued. (A revoked certificate being reinstated is not: it reads ``pending``
until its new PDF is ready, see ``records.requeue``.) ``expired`` is judged against the clock at every read, and a
revocation wins over it.

Links come from the ``Urls`` passed in (``lms.web.urls``): the verify page is the route
``certificates_verify_page``.
"""
from ..db import now
from ..schema import Integer, OneOf, Shape, Text, Timestamp
from . import records, sharing

PUBLIC_STATUS = {"pending": "pending", "rendering": "pending", "failed": "pending",
                 "active": "active", "revoked": "revoked"}


def verify_url(urls, cert_id):
    return urls.url_for("certificates_verify_page", certId=cert_id)


def public_status(cert, at=None):
    """``active``, ``revoked``, ``expired`` or ``pending``, as anyone is told at ``at`` (now)."""
    status = PUBLIC_STATUS[cert["status"]]
    if status == "pending" and cert.get("issuedAt") and cert.get("hash"):  # re-issuing: it keeps its PDF
        status = "active"
    expires = cert.get("expiresAt")
    if status == "active" and expires and (at or now()) >= expires:
        return "expired"
    return status


def _issued(key, convert=lambda value: value):
    """Only an issued (active, expired or revoked) certificate shows its dates, PDF and hash."""
    return lambda cert, _: convert(cert.get(key)) if public_status(cert) != "pending" else None


def _file(key):
    """The URL of an issued certificate's file; once revoked, of its copy stamped REVOKED (records
    issued before there were copies keep their original), and none while that copy is still being
    made (``stamping``): never the clean file."""
    revoked_key = "revoked" + key[0].upper() + key[1:]

    def get(cert, _):
        status = public_status(cert)
        if status == "pending":
            return None
        if status == "revoked":
            return cert.get(revoked_key) or (None if cert.get("revokedCopyDue") else cert.get(key))
        return cert.get(key)
    return get


def _revoked(key):
    return lambda cert, _: cert.get(key) if public_status(cert) == "revoked" else None


NAMED = Shape("Named", {"id": Text(), "name": Text()})
TITLED = Shape("Titled", {"id": Text(), "title": Text()})
SHARE = Shape("Share", {"linkedin": Text(format="uri", description="LinkedIn's Add-to-Profile form, filled in")})
PUBLIC_CERTIFICATE = Shape("PublicCertificate", {
    "certId": Text(),
    "student": NAMED(get=lambda cert, _: {"id": cert["userId"], "name": cert["studentName"]},
                     description="The name as it was when the certificate was issued"),
    "course": TITLED(get=lambda cert, _: {"id": cert["courseId"], "title": cert["courseTitle"]}),
    "issuedAt": Timestamp(get=_issued("issuedAt"), nullable=True),
    "expiresAt": Timestamp(get=_issued("expiresAt"), nullable=True),
    "pdfUrl": Text(get=_file("pdfUrl"), nullable=True, format="uri",
                   description="The PDF; for a revoked certificate, a copy stamped REVOKED"),
    "previewUrl": Text(get=_file("previewUrl"), nullable=True, format="uri",
                       description="Page one as a PNG (an Open Badges baked image); stamped REVOKED once "
                                   "revoked; null for the second or so after the activation while it is made"),
    "status": OneOf(("pending", "active", "expired", "revoked"), get=lambda cert, _: public_status(cert)),
    "hash": Text(get=_issued("hash"), nullable=True,
                 description="SHA-256 (hex) of the PDF's bytes (the original, also once revoked)"),
    "verifyUrl": Text(get=lambda cert, context: verify_url(context["urls"], cert["certId"]), format="uri"),
    "revokedAt": Timestamp(get=_revoked("revokedAt"), optional=True),
    "revokeReason": Text(get=_revoked("revokeReason"), optional=True)},
    description="A certificate as anyone holding its id sees it")
SHARED_CERTIFICATE = PUBLIC_CERTIFICATE.extend("SharedCertificate", {
    "share": SHARE(get=lambda cert, context: _share(cert, context), nullable=True)},
    description="The verification answer: the certificate, and for an active one the links that share it")



def public(cert, urls):
    """The verification shape (DESIGN §9), shown to anyone holding the id."""
    return PUBLIC_CERTIFICATE.dump(cert, urls=urls)


def shared(cert, urls, organisation):
    """The verification shape plus ``share``: the links that put an active certificate on a
    profile elsewhere (None for any other status: nobody should add a revoked one).
    ``organisation`` is ``sharing.Organisation``."""
    return SHARED_CERTIFICATE.dump(cert, urls=urls, organisation=organisation)


def final(cert):
    """Whether what anyone is told about ``cert`` stays true until someone changes it (active,
    expired, revoked): only such an answer may be cached. A pending one changes by itself."""
    return public_status(cert) != "pending"


def _share(cert, context):
    if public_status(cert) != "active":
        return None
    return {"linkedin": sharing.linkedin_url(cert, verify_url(context["urls"], cert["certId"]),
                                             context["organisation"])}


CERTIFICATE_STATUS = Shape("CertificateStatus", {
    "certId": Text(), "status": OneOf(("pending", "active", "expired", "revoked")),
    "revokedAt": Timestamp(optional=True), "revokeReason": Text(optional=True),
    "expiresAt": Timestamp(optional=True), "checkedAt": Timestamp()},
    description="A certificate's status right now: what a credential's credentialStatus points at")


def status_report(cert):
    """What a verifier checks (a credential's ``credentialStatus`` points here): the status
    right now, when and why it was revoked, until when it is valid."""
    at = now()
    status = public_status(cert, at)
    revoked = status == "revoked"
    return CERTIFICATE_STATUS.dump({
        "certId": cert["certId"], "status": status, "checkedAt": at,
        "revokedAt": cert.get("revokedAt") if revoked else None,
        "revokeReason": cert.get("revokeReason") if revoked else None,
        "expiresAt": cert.get("expiresAt") if status != "pending" else None})


CERTIFICATE = Shape("Certificate", {
    "id": Text("_id"), "certId": Text(), "userId": Text(), "courseId": Text(), "studentName": Text(),
    "courseTitle": Text(), "status": OneOf(records.STATUSES), "pdfUrl": Text(nullable=True, format="uri"),
    "storageKey": Text(nullable=True), "previewUrl": Text(nullable=True, format="uri"),
    "revokedPdfUrl": Text(nullable=True, format="uri"), "hash": Text(nullable=True), "issuedAt": Timestamp(nullable=True),
    "expiresAt": Timestamp(nullable=True), "renderedAt": Timestamp(nullable=True), "createdAt": Timestamp(),
    "attempts": Integer(default=0), "nextAttemptAt": Timestamp(nullable=True), "lastError": Text(nullable=True),
    "emailStatus": Text(nullable=True), "revokedAt": Timestamp(nullable=True), "revokedBy": Text(nullable=True),
    "storageAttempts": Integer(default=0, description="Failed uploads of the rendered files, since the last success"),
    "design": Shape("RenderedDesign", {"source": Text(), "version": Integer(), "layout": Text()})(
        nullable=True, description="The design the current files were rendered with"),
    "revokeReason": Text(nullable=True),
    "verifyUrl": Text(get=lambda cert, context: verify_url(context["urls"], cert["certId"]), format="uri")},
    description="A certificate as staff see it: its real status, attempts and last error")


def admin(cert, urls):
    """Everything staff need to see why a certificate is where it is."""
    return CERTIFICATE.dump(cert, urls=urls)
