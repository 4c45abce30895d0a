"""A short-lived in-process cache of public GET responses, with ETags.

Employers and visitors hammer a few public reads (the catalog, a course page, a certificate's
verification). Their answers are kept here for ``TTL`` seconds, keyed by path, query and whether
the caller is staff, and dropped at once when a write in this process touches their namespace
(the route table says which routes fill and which clear which namespace). Another replica's
write reaches this one's readers within ``TTL``: that is the stated bound on staleness, for a
revoked certificate as for an edited course.

Freshness of each answer (``final`` below): a handler that answers something about to change on
its own (a certificate not issued yet) sets ``Cache-Control: no-store``; such an answer is
neither kept here nor by anyone downstream, so the next request sees the change at once. An
answer served from here tells downstream caches to keep it only for what is left of its life
here (``max-age``), so a browser or shared cache never adds its own ``TTL`` on top: a change
made on another replica reaches every reader within ``TTL`` in all.
"""
import hashlib
import time

import bottle

TTL = 5.0
CACHED_HEADERS = ("Content-Type", "Content-Security-Policy")


class ResponseCache:
    def __init__(self, ttl=TTL, size=2000):
        self.ttl, self.size = ttl, size
        self.entries = {}  # key -> (expires, namespace, status, headers, body)

    def get(self, key):
        entry = self.entries.get(key)
        if entry and entry[0] > time.monotonic():
            return entry[2:]
        self.entries.pop(key, None)
        return None

    def remaining(self, key):
        """Whole seconds the entry under ``key`` has left (0 when none)."""
        entry = self.entries.get(key)
        return max(0, int(entry[0] - time.monotonic())) if entry else 0

    def put(self, namespace, key, status, headers, body):
        if len(self.entries) >= self.size:  # drop the oldest: dicts keep insertion order
            self.entries.pop(next(iter(self.entries)))
        self.entries[key] = (time.monotonic() + self.ttl, namespace, status, headers, body)

    def clear(self, namespaces):
        for key in [k for k, e in self.entries.items() if e[1] in namespaces]:
            del self.entries[key]


def key(user):
    """The cache key of the current request: what it asks, and whether staff ask it."""
    request = bottle.request
    return request.path, request.query_string, bool(user and user["role"] in ("instructor", "admin"))


def serve_hit(cache, user):
    """The cached answer to this request (headers set, a 304 for a matching ETag), or None."""
    hit = cache.get(key(user))
    if not hit:
        return None
    status, headers, body = hit
    response = bottle.response
    response.status = status
    for name, value in headers.items():
        response.set_header(name, value)
    return _validated(cache, user, body, cache.remaining(key(user)))


def store(cache, namespace, user, body):
    """Keep a fresh 200 answer and send it with its ETag; anything else passes unchanged."""
    response = bottle.response
    if response.status_code != 200 or not isinstance(body, str) or not final(response):
        return body
    cache.put(namespace, key(user), 200,
              {h: response.headers[h] for h in CACHED_HEADERS if h in response.headers}, body)
    return _validated(cache, user, body, int(cache.ttl))


def final(response):
    """Whether the handler let this answer be kept: not when it said ``no-store``."""
    return "no-store" not in (response.get_header("Cache-Control") or "")


def _validated(cache, user, body, max_age):
    request, response = bottle.request, bottle.response
    etag = '"' + hashlib.blake2b(body.encode(), digest_size=12).hexdigest() + '"'
    response.set_header("ETag", etag)
    response.set_header("Cache-Control", f"{'private' if user else 'public'}, max-age={max_age}")
    if etag in (request.get_header("If-None-Match") or ""):
        response.status = 304
        return ""
    return body
