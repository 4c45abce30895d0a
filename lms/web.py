"""HTTP plumbing shared by every route: the plugin and the outer middleware.

``Plugin`` wraps each handler of the route table. It enforces the route's ``who``, reads and
validates the JSON body and query against the route's declared schemas, injects what the
handler names (``db``, ``settings``, ``runtime``, ``user``, ``body``, ``query``), turns a
returned dict into ``{"ok": true, ...}`` and every error into the JSON envelope.

``Middleware`` sits outside Bottle: request ids, security headers, CORS, the body-size cap
and one JSON log line per request.
"""
import hashlib
import inspect
import json
import logging
import re
import time
import uuid

import bottle
from pymongo.errors import PyMongoError

from . import auth, errors

log = logging.getLogger("lms.web")
access_log = logging.getLogger("lms.access")

INJECTABLE = ("runtime", "db", "settings", "user", "actor", "body", "query")
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def respond(status, payload, headers=None):
    """Set status and headers on Bottle's response and return the JSON text.

    Writing to the thread-local response (instead of returning an HTTPResponse) keeps the
    cookies a handler set, also when it then fails: a rejected refresh clears its cookies.
    """
    response = bottle.response
    response.status = status
    response.content_type = "application/json"
    for name, value in (headers or {}).items():
        response.set_header(name, value)
    return json.dumps(payload, separators=(",", ":"))


def error_body(exc):
    return respond(exc.status, exc.body(), exc.headers)


def unexpected_error(exc, environ):
    """Log the whole failure with the request id; tell the client only that it happened."""
    if isinstance(exc, PyMongoError):
        log.error("database unavailable (request %s): %s", environ.get("lms.request_id"), exc)
        return error_body(errors.ServiceUnavailable(
            "The database is unavailable; try again shortly", code="database_unavailable",
            headers={"Retry-After": "5"}))
    log.exception("unhandled error (request %s)", environ.get("lms.request_id"))
    return error_body(errors.LMSError("Internal server error"))


class Plugin:
    name = "lms"
    api = 2

    def __init__(self, runtime):
        self.runtime = runtime

    def apply(self, callback, route):
        who = route.config.get("who", "anyone")
        csrf = route.config.get("csrf", True)
        body_schema = route.config.get("body")
        query_schema = route.config.get("query")
        wants = set(inspect.signature(callback).parameters) & set(INJECTABLE)
        runtime = self.runtime
        namespace = route.config.get("cache")
        invalidates = route.config.get("invalidates") or ()

        def handler(**url_args):
            request = bottle.request
            try:
                user = auth.authenticate(runtime, request, who, csrf)
                request.environ["lms.user_id"] = user["id"] if user else None
                supplied = {"runtime": runtime, "db": runtime.db, "settings": runtime.settings,
                            "user": user, "actor": auth.actor(user, request)}
                if "query" in wants or query_schema:
                    supplied["query"] = (query_schema.validate(dict(request.query.decode()), query=True)
                                         if query_schema else dict(request.query.decode()))
                if "body" in wants:
                    data = read_json(request, runtime.settings.max_body_bytes)
                    supplied["body"] = body_schema.validate(data) if body_schema else data
                if namespace:
                    return cached(runtime.cache, namespace, user, lambda: _reply(
                        callback(**url_args, **{k: supplied[k] for k in wants})))
                result = _reply(callback(**url_args, **{k: supplied[k] for k in wants}))
            except bottle.HTTPResponse:
                raise
            except errors.LMSError as exc:
                return error_body(exc)
            except Exception as exc:  # anything else is ours to log, never the client's to read
                return unexpected_error(exc, request.environ)
            if invalidates and bottle.response.status_code < 400:
                runtime.cache.clear(invalidates)
            return result

        return handler


def _reply(result):
    if isinstance(result, dict):
        return respond(result.pop("_status", 200), {"ok": True, **result})
    return result


CACHED_HEADERS = ("Content-Type", "Content-Security-Policy")


def cached(cache, namespace, user, compute):
    """Serve a public GET from the cache (or fill it), with an ETag and a 304 for a match."""
    request, response = bottle.request, bottle.response
    staff = bool(user and user["role"] in ("instructor", "admin"))
    key = (request.path, request.query_string, staff)
    hit = cache.get(key)
    if hit:
        status, headers, body = hit
        response.status = status
        for name, value in headers.items():
            response.set_header(name, value)
    else:
        body = compute()
        if response.status_code != 200 or not isinstance(body, str):
            return body
        cache.put(namespace, key, 200, {h: response.headers[h] for h in CACHED_HEADERS if h in response.headers},
                  body)
    etag = '"' + hashlib.blake2b(body.encode(), digest_size=12).hexdigest() + '"'
    response.set_header("ETag", etag)
    response.set_header("Cache-Control", f"{'private' if user else 'public'}, max-age={int(cache.ttl)}")
    if etag in (request.get_header("If-None-Match") or ""):
        response.status = 304
        return ""
    return body


def read_body(request, limit):
    """The raw request body, at most ``limit`` bytes (else 413), read once and cached."""
    environ = request.environ
    if "lms.raw_body" in environ:
        return environ["lms.raw_body"]
    length = environ.get("CONTENT_LENGTH") or ""
    if length and (not length.isdigit()):
        raise errors.BadRequest("Content-Length is not a number")
    if length and int(length) > limit:
        raise errors.PayloadTooLarge(f"The request body is larger than {limit} bytes")
    stream = environ["wsgi.input"]
    # With a Content-Length read exactly that; a chunked body was already de-chunked by the
    # server, so read up to one byte past the cap to know whether it is over.
    data = stream.read(int(length)) if length else stream.read(limit + 1)
    if len(data) > limit:
        raise errors.PayloadTooLarge(f"The request body is larger than {limit} bytes")
    environ["lms.raw_body"] = data
    return data


def read_json(request, limit):
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    data = read_body(request, limit)
    if not data and not content_type:
        raise errors.BadRequest("A JSON body is required", code="invalid_json")
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise errors.UnsupportedMediaType("The body must be JSON (Content-Type: application/json)")
    try:
        value = json.loads(data, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.BadRequest(f"The body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(value, dict):
        raise errors.BadRequest("The body must be a JSON object", code="invalid_json")
    return value


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def is_api(path):
    return path == "/api" or path.startswith("/api/")


_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
SECURITY_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
]
HTML_CSP = ("default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


class Middleware:
    """Request ids, security headers, CORS and the access log, around the whole WSGI app."""

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

    def _client_ip(self, environ):
        forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
        if self.trust_proxy and forwarded:
            # The rightmost address is the one our proxy saw; those left of it are client claims.
            return forwarded.split(",")[-1].strip()
        return environ.get("REMOTE_ADDR") or "unknown"

    def _preflight(self, environ, start_response, origin, request_id, started):
        headers = _cors_headers(origin) + [
            ("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE"),
            ("Access-Control-Allow-Headers", "Content-Type, X-XSRF-TOKEN, X-Request-Id"),
            ("Access-Control-Max-Age", "600"), ("Content-Length", "0"),
            ("X-Request-Id", request_id)]
        start_response("204 No Content", headers)
        self._log(environ, "204", started)
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
            ("Access-Control-Expose-Headers", "X-Request-Id, Retry-After"), ("Vary", "Origin")]
