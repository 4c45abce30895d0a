"""Certificates in public (the verification API and pages), for staff (list, revoke, re-issue),
and the signed-in user's notifications, which today are mostly about certificates.

The verification pages are HTML for people (a recruiter following a link), so their errors
are pages too: an unknown id is a 404 page with the form to try again, too many lookups a 429
page. Each page sends its own Content-Security-Policy: nothing runs, the stylesheet is
allowed by its hash, and the certificate's PDF may be embedded from exactly the
origin it is stored at. Certificate ids are matched case-insensitively (people retype them
from paper), and an id that cannot be one answers 404 without a database lookup.
"""
import base64
import functools
import hashlib
import re
from datetime import datetime
from urllib.parse import quote, urlsplit

import bottle

from .. import certificates, notifications, ratelimit
from ..errors import NotFound, RateLimited
from ..render import long_date
from ..schema import PAGE, Bool, Id, List, Obj, Query, Str

CERT_ID = re.compile(r"[A-Z0-9]{1,10}-[0-9A-Z]{10}")
ADMIN_QUERY = Query(status=Str(choices=certificates.STATUSES, required=False), userId=Id(required=False),
                    courseId=Id(required=False), **PAGE)
REVOKE = Obj(reason=Str(min=1, max=500, description="Shown on the public verification page"))
REISSUE = Obj(restore=Bool(default=False, description="Also reinstate a revoked certificate (admin only)"))
NOTIFICATIONS = Query(unread=Bool(required=False, description="true: only unread; false: only read"), **PAGE)
MARK_READ = Obj(ids=List(Id(), min=1, max=100, required=False,
                         description="The notifications to mark read; all of them when absent"))


def verify(runtime, certId, actor):
    ratelimit.hit(runtime.db, "certificate-ip", actor.ip)
    return certificates.shared(_find(runtime.db, certId), runtime.settings)


def verify_form(runtime, query):
    """The form; with ``?certId=`` (the form's own submission) a redirect to that id's page."""
    cert_id = _normalised(query.get("certId", ""))
    if not cert_id:
        return _page("verify_form", 200, runtime.settings, cert_id="", message=None)
    if not CERT_ID.fullmatch(cert_id):
        return _not_found(runtime.settings, cert_id)
    bottle.response.status = 303
    bottle.response.set_header("Location", f"/verify/{quote(cert_id)}")
    return ""


def verify_page(runtime, certId, actor):
    try:
        ratelimit.hit(runtime.db, "certificate-ip", actor.ip)
        cert = certificates.shared(_find(runtime.db, certId), runtime.settings)
    except NotFound:
        return _not_found(runtime.settings, _normalised(certId))
    except RateLimited as exc:
        bottle.response.set_header("Retry-After", str(exc.retry_after))
        return _page("verify_form", 429, runtime.settings, cert_id=_normalised(certId),
                     message=f"Too many lookups from your network; try again in {exc.retry_after} seconds.")
    pdf_url = cert["pdfUrl"] if (cert["pdfUrl"] or "").startswith(("https://", "http://")) else None
    return _page("verify", 200, runtime.settings, pdf_origin=_origin(pdf_url), cert=cert, pdf_url=pdf_url,
                 issued_on=_date(cert["issuedAt"]), revoked_on=_date(cert.get("revokedAt")),
                 expires_on=_date(cert["expiresAt"]), linkedin=(cert["share"] or {}).get("linkedin"))


def _find(db, cert_id):
    cert_id = _normalised(cert_id)
    if not CERT_ID.fullmatch(cert_id):
        raise NotFound("Certificate not found")
    return certificates.get(db, cert_id)


def _normalised(cert_id):
    return cert_id.strip().upper()[:40]


def _date(iso_time):
    return long_date(datetime.fromisoformat(iso_time.replace("Z", "+00:00"))) if iso_time else None


def _origin(url):
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _not_found(settings, cert_id):
    return _page("verify_form", 404, settings, cert_id=cert_id,
                 message=f"No certificate has the ID {cert_id}. Check it against the certificate and try again."
                 if cert_id else "Enter a certificate ID.")


def _page(name, status, settings, pdf_origin=None, **values):
    from ..app import VIEWS  # lms.app imports this module: a top-level import would be circular
    frames = pdf_origin or "'none'"
    response = bottle.response
    response.status = status
    response.content_type = "text/html; charset=utf-8"
    response.set_header("Content-Security-Policy", (
        f"default-src 'none'; style-src {_style_hash()}; img-src data:; object-src {frames}; "
        f"frame-src {frames}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"))
    response.set_header("Cache-Control", "no-cache")  # cached answers say max-age=5 instead (lms.cache)
    response.set_header("X-Robots-Tag", "noindex")  # shared by link, not listed by search engines
    return bottle.template(name, org=settings.org_name, template_lookup=[str(VIEWS)], **values)


@functools.cache
def _style_hash():
    """The CSP source of the pages' one stylesheet, by its hash: unlike a nonce it stays valid
    when a cached page is served again, and nothing else may style the page."""
    from ..app import VIEWS
    css = re.search(r"<style>(.*?)</style>", (VIEWS / "verify_layout.tpl").read_text(), re.S).group(1)
    return "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'"


def list_certificates(runtime, query):
    return certificates.search(runtime.db, runtime.settings.public_url, **query)


def revoke(runtime, certId, body, actor):
    cert = certificates.revoke(runtime.db, _normalised(certId), body["reason"], actor)
    return {"certificate": certificates.admin(cert, runtime.settings.public_url)}


def reissue(runtime, certId, body, actor):
    cert = certificates.reissue(runtime.db, _normalised(certId), actor, restore=body["restore"])
    if runtime.worker:
        runtime.worker.wake()
    return {"certificate": certificates.admin(cert, runtime.settings.public_url)}


def my_notifications(db, user, query):
    return notifications.of(db, user["id"], **query)


def mark_read(db, user, body):
    return {"marked": notifications.mark_read(db, user["id"], body.get("ids"))}
