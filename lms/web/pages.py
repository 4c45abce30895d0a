"""Server-rendered pages: the templates under ``views/``, their Content-Security-Policy, and the
error pages every non-API path answers with (JSON on ``/api/``, never Bottle's traceback page)."""
import base64
import functools
import hashlib
import json
import re
from pathlib import Path

import bottle

from .. import errors
from .middleware import is_api

VIEWS = Path(__file__).resolve().parent.parent.parent / "views"
STYLED_LAYOUT = "verify_layout.tpl"  # the pages' one stylesheet lives in this layout


def page(name, status, *, frames=None, images=(), **values):
    """Render ``views/<name>.tpl`` as the response, under a policy where nothing runs, the
    stylesheet is allowed by its hash, ``frames`` (an origin) alone may be embedded and images
    come from data: URIs and the ``images`` origins."""
    frames = frames or "'none'"
    image_sources = " ".join(["data:", *sorted(set(o for o in images if o))])
    response = bottle.response
    response.status = status
    response.content_type = "text/html; charset=utf-8"
    response.set_header("Content-Security-Policy", (
        f"default-src 'none'; style-src {_style_hash()}; img-src {image_sources}; object-src {frames}; "
        f"frame-src {frames}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"))
    response.set_header("Cache-Control", "no-cache")  # cached answers say max-age=5 instead (caching)
    response.set_header("X-Robots-Tag", "noindex")  # shared by link, not listed by search engines
    return bottle.template(name, template_lookup=[str(VIEWS)], **values)


@functools.cache
def _style_hash():
    """The CSP source of the pages' one stylesheet, by its hash: unlike a nonce it stays valid
    when a cached page is served again, and nothing else may style the page."""
    css = re.search(r"<style>(.*?)</style>", (VIEWS / STYLED_LAYOUT).read_text(), re.S).group(1)
    return "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'"


def install_error_pages(app):
    """Bottle's own 404, 405 and 500 answers (no route, wrong method, a failure outside our
    plugin) in our shapes."""
    for status, error in ((404, errors.NotFound("No such resource")),
                          (405, errors.MethodNotAllowed("Method not allowed")),
                          (500, errors.LMSError("Internal server error"))):
        app.error_handler[status] = _error_page(error)


def _error_page(error):
    def handler(http_error):
        response = bottle.response
        if is_api(bottle.request.path):
            response.content_type = "application/json"
            return json.dumps(error.body())
        response.content_type = "text/html; charset=utf-8"
        return bottle.template("error", status=error.status, message=error.message,
                               template_lookup=[str(VIEWS)])
    return handler
