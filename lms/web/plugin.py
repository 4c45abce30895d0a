"""The Bottle plugin that wraps every handler of the route table, and the JSON envelope.

For each request it, in order: authenticates and enforces the route's ``who`` (and CSRF), reads
and validates the query and JSON body against the route's declared schemas, answers from the
response cache where the route is cached, counts the request under the route's rate limits,
calls the handler with what it names (``db``, ``settings``, ``user``, ``body``, ``storage``...;
see ``INJECTABLE``), turns a returned dict into ``{"ok": true, ...}`` and every error into the
envelope, and clears the cache namespaces a successful write invalidates.

Errors: an ``LMSError`` answers its status and code; an ``OutsideServiceError`` (Razorpay, the
storage...) answers what ``OUTSIDE`` maps it to, its detail going to the log only; anything else
is logged with the request id and answers a bare 500 (503 when the database is unreachable).
"""
import inspect
import json
import logging

import bottle
from pymongo.errors import PyMongoError

from .. import audit, errors
from . import caching, guard, ratelimit
from .bodies import read_json

log = logging.getLogger("lms.web")

INJECTABLE = ("runtime", "db", "settings", "urls", "storage", "mailer", "keyring", "razorpay", "renderer",
              "user", "actor", "body", "query")
OUTSIDE = {
    errors.RazorpayUnavailable: lambda: errors.BadGateway(
        "Razorpay could not be reached; try again in a moment", code="razorpay_unavailable"),
    errors.RazorpayRejected: lambda: errors.BadGateway("Razorpay refused the request", code="razorpay_rejected"),
    errors.StorageError: lambda: errors.ServiceUnavailable(
        "The files could not be stored; nothing was saved, try again", code="storage_unavailable",
        headers={"Retry-After": "5"}),
}


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


def outside_error(exc):
    """What the client is told when an outside service failed: the mapped answer, never ``exc``'s text."""
    log.error("%s: %s", type(exc).__name__, exc)
    mapped = next((make for kind, make in OUTSIDE.items() if isinstance(exc, kind)), None)
    return mapped() if mapped else errors.ServiceUnavailable(
        "A service this needs is unavailable; try again shortly", headers={"Retry-After": "5"})


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
        config = route.config
        who, csrf = config.get("who", "anyone"), config.get("csrf", True)
        body_schema, query_schema = config.get("body"), config.get("query")
        namespace, invalidates = config.get("cache"), config.get("invalidates") or ()
        limits = [(name, ratelimit.RULES[name]) for name in config.get("limit") or ()]
        html_errors = config.get("html_errors")
        wants = set(inspect.signature(callback).parameters) & set(INJECTABLE)
        runtime = self.runtime
        db, settings = runtime.db, runtime.settings

        def handler(**url_args):
            request = bottle.request
            try:
                try:
                    user = guard.authenticate(db, settings, request, who, csrf)
                    request.environ["lms.user_id"] = user["id"] if user else None
                    supplied = {"runtime": runtime, "db": db, "settings": settings, "urls": runtime.urls,
                                "storage": runtime.storage, "mailer": runtime.mailer,
                                "keyring": runtime.keyring, "razorpay": runtime.razorpay,
                                "renderer": runtime.renderer, "user": user, "actor": guard.actor(user, request)}
                    if "query" in wants or query_schema:
                        query = dict(request.query.decode())
                        supplied["query"] = query_schema.validate(query, query=True) if query_schema else query
                    if "body" in wants:
                        data = read_json(request, settings.max_body_bytes)
                        supplied["body"] = body_schema.validate(data) if body_schema else data
                    if namespace:
                        hit = caching.serve_hit(runtime.cache, user)
                        if hit is not None:
                            return hit
                    counts = {name: _before(db, name, rule, supplied) for name, rule in limits}
                    _tightest(counts)
                    try:
                        result = _reply(callback(**url_args, **{k: supplied[k] for k in wants}))
                    except errors.LMSError as exc:
                        for name, rule in limits:
                            if rule.counts == "failures" and exc.code in rule.failures:
                                counts[name] = _after_failure(db, name, rule, supplied)
                        _tightest(counts)
                        raise
                    if namespace:
                        result = caching.store(runtime.cache, namespace, user, result)
                except errors.OutsideServiceError as exc:
                    raise outside_error(exc) from None
            except bottle.HTTPResponse:
                raise
            except errors.LMSError as exc:
                return html_errors(exc, settings) if html_errors else error_body(exc)
            except Exception as exc:  # anything else is ours to log, never the client's to read
                return unexpected_error(exc, request.environ)
            if invalidates and bottle.response.status_code < 400:
                runtime.cache.clear(invalidates)
            return result

        return handler


def _before(db, name, rule, supplied):
    """Count (or, for a rule of failures, check) this request under ``rule``; None when the rule
    does not apply to it."""
    key = rule.key_of(supplied)
    if key is None:
        return None
    if rule.counts == "failures":
        return ratelimit.check(db, name, key)
    return ratelimit.hit(db, name, key, on_trip=_trip(db, name, key, rule, supplied))


def _after_failure(db, name, rule, supplied):
    """Count a failure under ``rule``; the failure that uses up the window is the one audited
    (the next request is refused before it runs, so it cannot be). Returns the ``Count``."""
    key = rule.key_of(supplied)
    if key is None:
        return None
    try:
        count = ratelimit.hit(db, name, key)
    except errors.RateLimited as exc:  # failures racing past the limit: the next request is refused
        return ratelimit.Count(rule.limit, 0, exc.retry_after)
    if count.remaining == 0 and rule.audit:
        _trip(db, name, key, rule, supplied)()
    return count


def _tightest(counts):
    """The RateLimit-* headers of the rule with the fewest requests left speak for the route."""
    found = [count for count in counts.values() if count]
    if found:
        _set_headers(ratelimit.headers(min(found, key=lambda c: c.remaining)))


def _trip(db, name, key, rule, supplied):
    if not rule.audit:
        return None
    return lambda: audit.record(db, supplied["actor"], "auth.rate_limited", "rateLimit", f"{name}:{key}", rule=name)


def _set_headers(headers):
    for name, value in headers.items():
        bottle.response.set_header(name, value)


def _reply(result):
    if isinstance(result, dict):
        return respond(result.pop("_status", 200), {"ok": True, **result})
    return result
