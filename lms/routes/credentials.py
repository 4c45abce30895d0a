"""Verifiable credentials: the published keys, signed credentials, status and verify-by-PDF.

An employer can check a certificate with nothing but these public endpoints: the credential's
signature against ``/.well-known/jwks.json`` (cacheable for five minutes: the keys change only
at a rotation, and retired keys stay listed), its current status at ``.../status`` (never
cached: a revocation must show at once), or a PDF they were sent, by its bytes.

Lookups by id (credential, status) share the ``certificate-ip`` limit with the verification
lookup and follow its id rules (any case, 404 without a query for what cannot be an id).
``verify-pdf`` has its own, lower limit: each request may carry 5 MB.

``verify-pdf`` reads the whole body (at most ``MAX_UPLOAD_BYTES``, else 413 before a byte is
read, and counted while reading a chunked one: ``lms.web.read_body``) and parses it in memory
with Bottle's multipart parser; 5 MB per request needs no spooling to disk.
"""
import io
from email.message import Message

import bottle

from .. import certificates, credentials, ratelimit
from ..errors import BadRequest, UnsupportedMediaType, ValidationError
from ..schema import Query, Str
from ..web import read_body, respond
from .certificates import _find  # the verification lookup's id rules
from .submissions import _reason  # what the multipart parser objected to

JWKS_CACHE = "public, max-age=300"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
CREDENTIAL_QUERY = Query(format=Str(choices=("json", "jwt"), required=False,
                                    description="jwt: the compact VC-JWT alone, as with Accept: application/vc+jwt"))


JWKS = {"type": "object", "required": ["keys"], "properties": {"keys": {"type": "array", "items": {
    "type": "object", "required": ["kty", "crv", "x", "kid"]}}}}


def jwks(settings):
    # Exactly {"keys": [...]}, the JWK Set format (RFC 7517), so no "ok" member.
    return respond(200, credentials.Keyring.from_settings(settings).jwks(), {"Cache-Control": JWKS_CACHE})


def credential(runtime, certId, query, actor):
    ratelimit.hit(runtime.db, "certificate-ip", actor.ip)
    signed, token = certificates.sign_credential(runtime.db, runtime.settings, _find(runtime.db, certId))
    bottle.response.set_header("Vary", "Accept")
    if query.get("format") == "jwt" or _accepts(credentials.MEDIA_TYPE):
        bottle.response.content_type = credentials.MEDIA_TYPE
        return token
    return {"credential": signed, "jwt": token}


def _accepts(media_type):
    accept = bottle.request.get_header("Accept") or ""
    return media_type in (part.split(";")[0].strip().lower() for part in accept.split(","))


def status(db, certId, actor):
    ratelimit.hit(db, "certificate-ip", actor.ip)
    return certificates.status_report(_find(db, certId))


def verify_pdf(runtime, actor):
    db = runtime.db
    ratelimit.hit(db, "verify-pdf-ip", actor.ip)
    cert = certificates.match_pdf(db, _uploaded_file(bottle.request))
    if cert is None:
        return {"match": False}
    return {"match": True, "certificate": certificates.shared(cert, runtime.settings)}


def _uploaded_file(request):
    """The bytes of the one ``file`` part of a multipart body."""
    header = Message()
    header["Content-Type"] = request.environ.get("CONTENT_TYPE", "")  # .content_type lower-cases the boundary
    if header.get_content_type() != "multipart/form-data":
        raise UnsupportedMediaType("Upload the PDF as multipart/form-data, in the field 'file'")
    boundary = header.get_param("boundary")
    if not boundary:
        raise BadRequest("The multipart body has no boundary", code="invalid_multipart")
    body = read_body(request, MAX_UPLOAD_BYTES)
    parser = bottle._MultipartParser(io.BytesIO(body), boundary, len(body), disk_limit=MAX_UPLOAD_BYTES,
                                     mem_limit=MAX_UPLOAD_BYTES, memfile_limit=MAX_UPLOAD_BYTES)
    found = []
    try:
        for part in parser.parse():
            if part.name == "file":
                found.append(part.raw)
            part.close()
    except (bottle.MultipartError, ValueError) as exc:  # ValueError: a part's bad Content-Length
        raise BadRequest(f"The multipart body is malformed ({_reason(exc)})", code="invalid_multipart") from None
    if len(found) != 1:
        raise ValidationError({"file": "is required" if not found else "give one file at a time"})
    return found[0]
