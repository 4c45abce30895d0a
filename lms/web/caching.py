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

Hits before routing (``ResponseCache.answer``, called by ``lms.web.middleware``): most readers of
these routes are anonymous and ask for the same few URLs. An anonymous GET or HEAD whose path and
query string, exactly as sent (its *spelling*), were already answered from or into an entry is
answered from that entry before Bottle routes it: no routing, no plugin, no validation, with the
entry's body bytes, ETag and header list made once when it was stored. It is the answer the
plugin would give: the same entry (the spelling was validated to that key), and for a request
without the session cookie the same user (none), so the same ``public`` Cache-Control, the same
304 to a matching If-None-Match; the middleware adds the request id, security and CORS headers as
to any answer. Not before routing: any request carrying the ``access_token`` cookie (it may be
staff's, or a student's ``private`` answer), and spellings past ``MAX_SPELLINGS`` per entry, so
a visitor varying the query string still cannot grow the cache (each spelling is also counted in
the entry's bytes). A hit is not counted under the route's rate limits, before routing or not:
the limits guard the database, which a hit does not reach. An entry dropped (a write, expiry,
room) takes its spellings with it.
"""
import hashlib
import time

import bottle

from .guard import ACCESS_COOKIE

TTL = 5.0
CACHED_HEADERS = ("Content-Type", "Content-Security-Policy", "X-Robots-Tag")  # what the handler set that a hit repeats
MAX_BYTES = 32 * 1024 * 1024
ENTRY_OVERHEAD = 512  # bytes an entry (or a spelling of one) costs beyond its body: key, headers, bookkeeping
MAX_SPELLINGS = 8  # query strings an entry is found by before routing; others take the plugin's way
READS = ("GET", "HEAD")
_SESSION = ACCESS_COOKIE + "="  # conservative: any cookie of that name sends the request to the plugin
_NOT_MODIFIED = bottle.BaseResponse.bad_headers[304]  # what Bottle leaves out of a 304


class Entry:
    """One kept answer: the body's bytes (``data``), and what a hit sends, made once."""

    __slots__ = ("key", "expires", "namespace", "status", "headers", "cost", "data", "etag", "head", "spellings")

    def __init__(self, key, expires, namespace, status, headers, body):
        self.key, self.expires, self.namespace, self.status = key, expires, namespace, status
        self.headers = headers
        self.data = body.encode()
        self.cost = len(self.data) + ENTRY_OVERHEAD
        self.etag = '"' + hashlib.blake2b(self.data, digest_size=12).hexdigest() + '"'
        sent = [(name.title(), value) for name, value in  # names as Bottle sends them: "Etag"
                (*headers.items(), ("Content-Length", str(len(self.data))), ("ETag", self.etag))]
        self.head = {200: sent, 304: [h for h in sent if h[0] not in _NOT_MODIFIED]}
        self.spellings = []


class ResponseCache:
    def __init__(self, ttl=TTL, max_bytes=MAX_BYTES):
        self.ttl, self.max_bytes = ttl, max_bytes
        self.entries = {}  # key -> Entry; oldest first
        self.spelled = {}  # spelling (path, query string) -> Entry, for anonymous reads before routing
        self.bytes = 0

    def get(self, key):
        entry = self.entries.get(key)
        if entry and entry.expires > time.monotonic():
            return entry
        if entry:
            self._drop(key)
        return None

    def remaining(self, entry):
        """Whole seconds ``entry`` has left."""
        return max(0, int(entry.expires - time.monotonic()))

    def put(self, namespace, key, status, headers, body):
        """Keep an answer; the Entry, or None when it is too large to keep."""
        entry = Entry(key, time.monotonic() + self.ttl, namespace, status, headers, body)
        if entry.cost > self.max_bytes // 8:
            return None
        if key in self.entries:  # re-inserted, so that the order stays the order of expiry
            self._drop(key)
        self._make_room(entry.cost)
        self.entries[key] = entry
        self.bytes += entry.cost
        return entry

    def spell(self, entry, spelling):
        """Let anonymous reads spelled ``spelling`` find ``entry`` before routing."""
        if spelling is None or spelling in self.spelled or len(entry.spellings) >= MAX_SPELLINGS:
            return
        cost = len(spelling[0]) + len(spelling[1]) + ENTRY_OVERHEAD
        self._make_room(cost)
        if self.entries.get(entry.key) is not entry:  # making room dropped it
            return
        entry.spellings.append(spelling)
        entry.cost += cost
        self.bytes += cost
        self.spelled[spelling] = entry

    def answer(self, environ):
        """The hit for an anonymous read, before routing: (status line, headers, body), or None.
        The headers are a new list the caller may extend."""
        entry = self.spelled.get(spelling(environ) or ())
        if entry is None:
            return None
        left = entry.expires - time.monotonic()
        if left <= 0:
            return None  # the plugin's lookup drops it
        cache_control = ("Cache-Control", f"public, max-age={int(left)}")
        if entry.etag in environ.get("HTTP_IF_NONE_MATCH", ""):
            return "304 Not Modified", [*entry.head[304], cache_control], []
        return "200 OK", [*entry.head[200], cache_control], [] if environ["REQUEST_METHOD"] == "HEAD" else [entry.data]

    def clear(self, namespaces):
        for key in [k for k, e in self.entries.items() if e.namespace in namespaces]:
            self._drop(key)

    def _make_room(self, cost):
        at = time.monotonic()
        while self.entries and (self.bytes + cost > self.max_bytes or next(iter(self.entries.values())).expires <= at):
            self._drop(next(iter(self.entries)))

    def _drop(self, key):
        entry = self.entries.pop(key)
        for spelled in entry.spellings:
            del self.spelled[spelled]
        self.bytes -= entry.cost


def spelling(environ):
    """How a read names its answer before routing: (path, query string) exactly as sent; None
    when it is not an anonymous GET or HEAD (the session cookie may change the answer)."""
    if environ["REQUEST_METHOD"] not in READS or _SESSION in environ.get("HTTP_COOKIE", ""):
        return None
    return environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")


def key(user):
    """The cache key of the current request: the route, what its declared parameters mean (as
    the plugin validated them), and whether staff ask."""
    request = bottle.request
    query = request.environ.get("lms.query") or {}
    return (request.path, tuple(sorted(query.items())),
            bool(user and user["role"] in ("instructor", "admin")))


def serve_hit(cache, user):
    """The cached answer to this request (headers set, a 304 for a matching ETag), or None."""
    entry = cache.get(key(user))
    if not entry:
        return None
    response = bottle.response
    response.status = entry.status
    for name, value in entry.headers.items():
        response.set_header(name, value)
    return _validated(cache, user, entry, cache.remaining(entry))


def store(cache, namespace, user, body):
    """Keep a fresh 200 answer and send it with its ETag; anything else passes unchanged."""
    response = bottle.response
    if response.status_code != 200 or not isinstance(body, str) or not final(response):
        return body
    entry = cache.put(namespace, key(user), 200,
                      {h: response.headers[h] for h in CACHED_HEADERS if h in response.headers}, body)
    return _validated(cache, user, entry, int(cache.ttl)) if entry else body


def final(response):
    """Whether the handler let this answer be kept: not when it said ``no-store``."""
    return "no-store" not in (response.get_header("Cache-Control") or "")


def _validated(cache, user, entry, max_age):
    request, response = bottle.request, bottle.response
    if user is None:
        cache.spell(entry, spelling(request.environ))
    response.set_header("ETag", entry.etag)
    response.set_header("Cache-Control", f"{'private' if user else 'public'}, max-age={max_age}")
    if entry.etag in (request.get_header("If-None-Match") or ""):
        response.status = 304
        return ""
    return entry.data
