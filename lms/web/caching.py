"""A short-lived in-process cache of public GET responses, with ETags.

Employers and visitors hammer a few public reads (the catalog, a course page, a certificate's
verification). Their answers are kept here for ``TTL`` seconds, keyed by path, query and whether
the caller is staff, and dropped at once when a write in this process touches their namespace
(the route table says which routes fill and which clear which namespace). Another replica's
write reaches this one's readers within ``TTL``: that is the stated bound on staleness, for a
revoked certificate as for an edited course.
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
    return _validated(cache, user, body)


def store(cache, namespace, user, body):
    """Keep a fresh 200 answer and send it with its ETag; anything else passes unchanged."""
    response = bottle.response
    if response.status_code != 200 or not isinstance(body, str):
        return body
    cache.put(namespace, key(user), 200,
              {h: response.headers[h] for h in CACHED_HEADERS if h in response.headers}, body)
    return _validated(cache, user, body)


def _validated(cache, user, body):
    request, response = bottle.request, bottle.response
    etag = '"' + hashlib.blake2b(body.encode(), digest_size=12).hexdigest() + '"'
    response.set_header("ETag", etag)
    response.set_header("Cache-Control", f"{'private' if user else 'public'}, max-age={int(cache.ttl)}")
    if etag in (request.get_header("If-None-Match") or ""):
        response.status = 304
        return ""
    return body
