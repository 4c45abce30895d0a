"""Every certificate URL: public verification (the API and the pages), verifiable credentials,
verify-by-PDF, the signed-in user's certificates, and staff's list, revoke and re-issue.

An employer can check a certificate with nothing but the public endpoints: the credential's
signature against ``/.well-known/jwks.json`` (cacheable for five minutes: the keys change only
at a rotation, and retired keys stay listed), its current status at ``.../status`` (never
cached: a revocation must show at once), or a PDF they were sent, by its bytes.

The verification pages are HTML for people (a recruiter following a link), so their errors
are pages too: an unknown id is a 404 page with the form to try again, too many lookups a 429
page. Each page sends its own Content-Security-Policy: nothing runs, the stylesheet is allowed
by its hash, and images come only from where the certificate's preview is stored. The preview
is the PNG of page one (an embedded PDF is an empty box on phones); a revoked certificate's is
its copy stamped REVOKED, under a banner saying so.

Freshness: a final answer (active, expired, revoked) is cached for a few seconds
(``lms.web.caching``); a pending one, or a 404, is ``no-store``, so the moment the worker
activates a certificate the next request says so.

Lookups by id (verification, credential, status) share the ``certificate-ip`` limit (counted
only when the answer is not cached) and its id rules (any case, 404 without a query for what
cannot be an id: ``records.find``). ``verify-pdf`` has its own, lower limit: each request may
carry 5 MB, read by the one multipart reader.
"""
from datetime import datetime
from urllib.parse import urlsplit

import bottle

from ..certificates import badges, records, shapes
from ..certificates.pdf import long_date
from ..certificates.sharing import Organisation
from ..errors import NotFound, RateLimited, ValidationError
from ..schema import PAGE, Bool, Form, Id, Obj, Query, Str
from ..web import pages
from ..web.bodies import UploadLimits, read_multipart
from ..web.plugin import respond

MINE = Query(**PAGE)
ADMIN_QUERY = Query(status=Str(choices=records.STATUSES, required=False), userId=Id(required=False),
                    courseId=Id(required=False), **PAGE)
REVOKE = Obj(reason=Str(min=1, max=500, description="Shown on the public verification page"))
REISSUE = Obj(restore=Bool(default=False, description="Also reinstate a revoked certificate (admin only)"))
FORM_QUERY = Query(certId=Str(max=100, required=False, description="The id to look up: redirects to its page"))
CREDENTIAL_QUERY = Query(format=Str(choices=("json", "jwt"), required=False,
                                    description="jwt: the compact VC-JWT alone, as with Accept: application/vc+jwt"))
JWKS = {"type": "object", "required": ["keys"], "properties": {"keys": {"type": "array", "items": {
    "type": "object", "required": ["kty", "crv", "x", "kid"]}}}}
JWKS_CACHE = "public, max-age=300"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
PDF_UPLOAD = UploadLimits(total_bytes=MAX_UPLOAD_BYTES)
FORM = Form(Obj(), files="file", description="The PDF to check, at most 5 MB")


# --- public verification ------------------------------------------------------------------

def verify(db, settings, urls, certId):
    cert = records.find(db, certId)
    answer = shapes.shared(cert, urls, Organisation.from_settings(settings))
    _freshness(cert)
    return {**answer, "certificate": answer}


def _freshness(cert):
    if not shapes.final(cert):
        bottle.response.set_header("Cache-Control", "no-store")


def verify_form(settings, urls, query):
    """The form; with ``?certId=`` (the form's own submission) a redirect to that id's page."""
    cert_id = records.normalised(query.get("certId", ""))
    if not cert_id:
        return pages.page("verify_form", 200, org=settings.org_name, cert_id="", message=None)
    if not records.CERT_ID.fullmatch(cert_id):
        return _not_found(settings, cert_id)
    bottle.response.status = 303
    bottle.response.set_header("Location", urls.path("certificates_verify_page", certId=cert_id))
    return ""


def verify_page(db, settings, urls, storage, certId):
    record = records.find(db, certId)
    cert = shapes.shared(record, urls, Organisation.from_settings(settings))
    pdf_url, preview_url = (cert[k] if (cert[k] or "").startswith(("https://", "http://")) else None
                            for k in ("pdfUrl", "previewUrl"))
    body = pages.page("verify", 200, images=(_origin(preview_url), getattr(storage, "origin", None)),
                      org=settings.org_name, cert=cert, pdf_url=pdf_url, preview_url=preview_url,
                      issued_on=_date(cert["issuedAt"]), revoked_on=_date(cert.get("revokedAt")),
                      expires_on=_date(cert["expiresAt"]), linkedin=(cert["share"] or {}).get("linkedin"))
    _freshness(record)
    return body


def verify_page_error(exc, settings):
    """The verification page's errors, as pages (the ``html_errors`` of its route), never kept."""
    cert_id = records.normalised(bottle.request.url_args.get("certId", ""))
    page = _error_page(exc, settings, cert_id)
    bottle.response.set_header("Cache-Control", "no-store")
    return page


def _error_page(exc, settings, cert_id):
    if isinstance(exc, RateLimited):
        bottle.response.set_header("Retry-After", str(exc.retry_after))
        return pages.page("verify_form", 429, org=settings.org_name, cert_id=cert_id,
                          message=f"Too many lookups from your network; try again in {exc.retry_after} seconds.")
    if isinstance(exc, NotFound):
        return _not_found(settings, cert_id)
    return pages.page("verify_form", exc.status, org=settings.org_name, cert_id=cert_id, message=exc.message)


def _date(iso_time):
    return long_date(datetime.fromisoformat(iso_time.replace("Z", "+00:00"))) if iso_time else None


def _origin(url):
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _not_found(settings, cert_id):
    return pages.page("verify_form", 404, org=settings.org_name, cert_id=cert_id,
                      message=f"No certificate has the ID {cert_id}. Check it against the certificate and try again."
                      if cert_id else "Enter a certificate ID.")


# --- verifiable credentials ----------------------------------------------------------------

def jwks(keyring):
    # Exactly {"keys": [...]}, the JWK Set format (RFC 7517), so no "ok" member.
    return respond(200, keyring.jwks(), {"Cache-Control": JWKS_CACHE})


def credential(db, settings, urls, keyring, certId, query):
    signed, token = badges.sign(db, keyring, urls, settings.org_name, records.find(db, certId))
    bottle.response.set_header("Vary", "Accept")
    if query.get("format") == "jwt" or _accepts(badges.MEDIA_TYPE):
        bottle.response.content_type = badges.MEDIA_TYPE
        return token
    return {"credential": signed, "jwt": token}


def _accepts(media_type):
    accept = bottle.request.get_header("Accept") or ""
    return media_type in (part.split(";")[0].strip().lower() for part in accept.split(","))


def status(db, certId):
    return shapes.status_report(records.find(db, certId))


def verify_pdf(db, settings, urls):
    _, found = read_multipart(bottle.request, PDF_UPLOAD, files_field="file", fields=(), accept=_one_pdf)
    if not found:
        raise ValidationError({"file": "is required"})
    cert = records.match_pdf(db, found[0])
    if cert is None:
        return {"match": False}
    return {"match": True, "certificate": shapes.shared(cert, urls, Organisation.from_settings(settings))}


def _one_pdf(index, filename, stream):
    return stream.read(MAX_UPLOAD_BYTES + 1)


# --- the signed-in user's, and staff's ------------------------------------------------------

def my_certificates(db, urls, user, query):
    return records.mine(db, user["id"], lambda cert: shapes.public(cert, urls), **query)


def list_certificates(db, urls, query):
    return records.search(db, lambda cert: shapes.admin(cert, urls), **query)


def revoke(db, urls, certId, body, actor):
    cert = records.revoke(db, records.normalised(certId), body["reason"], actor)
    return {"certificate": shapes.admin(cert, urls)}


def reissue(db, urls, certId, body, actor):
    cert = records.reissue(db, records.normalised(certId), actor, restore=body["restore"])
    return {"certificate": shapes.admin(cert, urls)}
