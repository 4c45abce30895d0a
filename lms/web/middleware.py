"""What wraps the whole WSGI app, outside Bottle: request ids, security headers, CORS, the
access log (one JSON line per request), the requests refused before Bottle sees them, and the
anonymous cache hits answered before Bottle sees them (``lms.web.caching``: with the same
headers added here as to any answer).

Refused here, in the one error envelope on ``/api/`` (a small HTML page elsewhere), with every
header an answer carries and an access-log line like any request:
- a path, query string or header whose (percent-decoded) bytes are not UTF-8: 400 (Bottle
  fails decoding them, and no id, slug, parameter or header value we read is anything but
  UTF-8 text). Cookies are the exception: another application on the same domain may set
  cookies of any bytes, and refusing every request of their browser for it would lock the
  user out; Bottle reads cookies without failing, and ours are ASCII. So is X-XSRF-TOKEN,
  which the guard compares as bytes (a wrong one is its 403 ``csrf_failed``);
- what the server refused while reading the request line and headers (``lms.web.server`` puts
  the error in ``environ["lms.refused"]``): 414 ``uri_too_long``, 431 ``headers_too_large``,
  400 ``bad_request``.
"""
import html
import json
import logging
import os
import re
import time
from urllib.parse import unquote_to_bytes

from .. import errors, logs

access_log = logging.getLogger("lms.access")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
SECURITY_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
]
# What a page on another origin may read and send (CORS): everything the API documents.
EXPOSED = ("ETag", "Content-Disposition", "Retry-After", "X-Request-Id", "X-XSRF-TOKEN",
           "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
ALLOWED_HEADERS = ("Content-Type", "X-XSRF-TOKEN", "X-Request-Id", "If-None-Match", "If-Match", "Last-Event-ID")
PREFLIGHT_MAX_AGE = 7200  # seconds: Chromium's ceiling (Firefox allows a day)
HTML_CSP = ("default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def is_api(path):
    return path == "/api" or path.startswith("/api/")


class Middleware:
    def __init__(self, app, settings, cache=None):
        self.app = app
        self.cache = cache  # the response cache, whose anonymous hits are answered here, before routing
        self.cors_origins = set(settings.cors_origins)
        self.trust_proxy = settings.trust_proxy

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        # 32 random hex digits, as uuid4().hex gives, at a fraction of its cost
        request_id = incoming if _REQUEST_ID.fullmatch(incoming) else os.urandom(16).hex()
        environ["lms.request_id"] = request_id
        environ["lms.client_ip"] = self._client_ip(environ)
        logs.bind(environ)
        path = environ.get("PATH_INFO", "")
        origin = environ.get("HTTP_ORIGIN")
        cors = origin if origin in self.cors_origins else None
        seen = {}

        if cors and environ["REQUEST_METHOD"] == "OPTIONS" and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"):
            return self._preflight(environ, start_response, cors, request_id, started)
        refused = environ.get("lms.refused") or _undecodable(environ)

        def start(status, headers, exc_info=None):
            names = {name.lower() for name, _ in headers}
            headers.append(("X-Request-Id", request_id))
            headers.extend(h for h in SECURITY_HEADERS if h[0].lower() not in names)
            content_type = next((v for n, v in headers if n.lower() == "content-type"), "")
            if content_type.startswith("text/html") and "content-security-policy" not in names:
                headers.append(("Content-Security-Policy", HTML_CSP))
            if is_api(path) and "cache-control" not in names:
                headers.append(("Cache-Control", "no-store"))
            if cors:
                headers.extend(_cors_headers(cors))
            seen["status"] = status
            return start_response(status, headers, exc_info)

        try:
            if refused:
                return refusal(refused, path, start)
            hit = self.cache.answer(environ) if self.cache is not None else None
            if hit is not None:
                start(hit[0], hit[1])
                return hit[2]
            return self.app(environ, start)
        finally:
            self._log(environ, seen.get("status", "500"), started)
            logs.unbind()

    def _client_ip(self, environ):
        forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
        if self.trust_proxy and forwarded:
            # The rightmost address is the one our proxy saw; those left of it are client claims.
            return forwarded.split(",")[-1].strip()
        return environ.get("REMOTE_ADDR") or "unknown"

    def _preflight(self, environ, start_response, origin, request_id, started):
        headers = _cors_headers(origin) + [
            ("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE"),
            ("Access-Control-Allow-Headers", ", ".join(ALLOWED_HEADERS)),
            ("Access-Control-Max-Age", str(PREFLIGHT_MAX_AGE)), ("Content-Length", "0"),
            ("X-Request-Id", request_id)]
        start_response("204 No Content", headers)
        self._log(environ, "204", started)
        logs.unbind()
        return [b""]

    def _log(self, environ, status, started):
        logs.record(access_log, {
            "requestId": environ["lms.request_id"],
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": int(status[:3]),
            "ms": round((time.perf_counter() - started) * 1000, 1),
            "userId": environ.get("lms.user_id"),
        })


READ_AS_BYTES = ("HTTP_COOKIE", "HTTP_X_XSRF_TOKEN")  # headers no decoding of ours fails on


def _undecodable(environ):
    """The 400 for a path, query string or header that is not UTF-8 (once percent-decoded), or None."""
    for key, value in environ.items():
        if key.startswith("HTTP_") and key not in READ_AS_BYTES and isinstance(value, str) and not value.isascii():
            try:
                value.encode("latin-1").decode("utf-8")
            except UnicodeError:
                name = key[5:].replace("_", "-").title()
                return errors.ValidationError({name: "is not valid UTF-8"}, message=f"The {name} header is not UTF-8 text")
    for part, text in (("path", environ.get("PATH_INFO", "")), ("query", environ.get("QUERY_STRING", ""))):
        if text.isascii() and (part == "path" or "%" not in text):
            continue
        # The server hands both over as latin-1 text of the bytes received (the path already
        # percent-decoded), which is how they are turned back into those bytes.
        raw = text.encode("latin-1", "replace")
        try:
            (unquote_to_bytes(raw) if part == "query" else raw).decode("utf-8")
        except UnicodeDecodeError:
            return errors.ValidationError({part: "is not valid UTF-8 once percent-decoded"},
                                          message=f"The {part} of the URL is not UTF-8 text")
    return None


def refusal(error, path, start):
    """Answer ``error`` (an LMSError) without the app: JSON on /api/, a small page elsewhere."""
    if is_api(path):
        body, content_type = json.dumps(error.body(), separators=(",", ":")), "application/json"
    else:
        body, content_type = (f"<!doctype html><meta charset=utf-8><title>{error.status}</title>"
                              f"<p>{html.escape(error.message)}</p>"), "text/html; charset=utf-8"
    data = body.encode()
    start(f"{error.status} {_REASONS.get(error.status, 'Error')}",
          [("Content-Type", content_type), ("Content-Length", str(len(data))), *error.headers.items()])
    return [data]


_REASONS = {400: "Bad Request", 408: "Request Timeout", 414: "URI Too Long", 431: "Request Header Fields Too Large",
            503: "Service Unavailable"}


def _cors_headers(origin):
    return [("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Credentials", "true"),
            ("Access-Control-Expose-Headers", ", ".join(EXPOSED)), ("Vary", "Origin")]
