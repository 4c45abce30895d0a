"""What wraps the whole WSGI app, outside Bottle: request ids, security headers, CORS and the
access log (one JSON line per request)."""
import logging
import re
import time
import uuid

from .. import logs

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
    def __init__(self, app, settings):
        self.app = app
        self.cors_origins = set(settings.cors_origins)
        self.trust_proxy = settings.trust_proxy

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        environ["lms.request_id"] = request_id
        environ["lms.client_ip"] = self._client_ip(environ)
        logs.bind(environ)
        path = environ.get("PATH_INFO", "")
        origin = environ.get("HTTP_ORIGIN")
        cors = origin if origin in self.cors_origins else None
        seen = {}

        if cors and environ["REQUEST_METHOD"] == "OPTIONS" and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"):
            return self._preflight(environ, start_response, cors, request_id, started)

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
        access_log.info("request", extra={"fields": {
            "requestId": environ["lms.request_id"],
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": int(str(status).split()[0]),
            "ms": round((time.perf_counter() - started) * 1000, 1),
            "userId": environ.get("lms.user_id"),
        }})


def _cors_headers(origin):
    return [("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Credentials", "true"),
            ("Access-Control-Expose-Headers", ", ".join(EXPOSED)), ("Vary", "Origin")]
