"""A short-lived in-process cache of public GET responses, with ETags.

Employers and visitors hammer a few public reads (the catalog, a course page, a certificate's
verification). Their answers are kept here for ``TTL`` seconds, keyed by path, query and whether
the caller is staff, and dropped at once when a write in this process touches their namespace
(the route table says which routes fill and which clear which namespace). Another replica's
write reaches this one's readers within ``TTL``: that is the stated bound on staleness, for a
revoked certificate as for an edited course.

What a visitor cannot do is fill it: the key holds the route's declared parameters as the
route understood them (validated, defaults filled in, in a fixed order), never the raw query
string, so ``?page=1``, ``?page=01&`` and no query at all are one entry, and parameters a route
ignores are not part of it. The whole cache holds at most ``LMS_CACHE_BYTES`` of answers
(counted as the length of their bodies): past that the oldest go first, an answer larger than an
eighth of it is not kept, and expired answers are dropped as new ones come in.

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
MAX_BYTES = 32 * 1024 * 1024
ENTRY_OVERHEAD = 512  # bytes an entry costs beyond its body: key, headers, bookkeeping


class ResponseCache:
    def __init__(self, ttl=TTL, max_bytes=MAX_BYTES):
        self.ttl, self.max_bytes = ttl, max_bytes
        self.entries = {}  # key -> (expires, namespace, status, headers, body, cost); oldest first
        self.bytes = 0

    def get(self, key):
        entry = self.entries.get(key)
        if entry and entry[0] > time.monotonic():
            return entry[2:5]
        if entry:
            self._drop(key)
        return None

    def remaining(self, key):
        """Whole seconds the entry under ``key`` has left (0 when none)."""
        entry = self.entries.get(key)
        return max(0, int(entry[0] - time.monotonic())) if entry else 0

    def put(self, namespace, key, status, headers, body):
        cost = len(body) + ENTRY_OVERHEAD
        if cost > self.max_bytes // 8:
            return
        if key in self.entries:  # re-inserted, so that the order stays the order of expiry
            self._drop(key)
        at = time.monotonic()
        while self.entries and (self.bytes + cost > self.max_bytes or next(iter(self.entries.values()))[0] <= at):
            self._drop(next(iter(self.entries)))
        self.entries[key] = (at + self.ttl, namespace, status, headers, body, cost)
        self.bytes += cost

    def clear(self, namespaces):
        for key in [k for k, e in self.entries.items() if e[1] in namespaces]:
            self._drop(key)

    def _drop(self, key):
        self.bytes -= self.entries.pop(key)[5]


def key(user):
    """The cache key of the current request: the route, what its declared parameters mean (as
    the plugin validated them), and whether staff ask."""
    request = bottle.request
    query = request.environ.get("lms.query") or {}
    return (request.path, tuple(sorted(query.items())),
            bool(user and user["role"] in ("instructor", "admin")))


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
