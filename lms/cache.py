"""A short-lived in-process cache of public GET responses.

Employers and visitors hammer a few public reads (the catalog, a course page, a certificate's
verification). Their answers are kept here for ``TTL`` seconds, keyed by path, query and whether
the caller is staff, and dropped at once when a write in this process touches their namespace
(the route table says which routes fill and which clear which namespace). Another replica's
write reaches this one's readers within ``TTL``: that is the stated bound on staleness, for a
revoked certificate as for an edited course.
"""
import time

TTL = 5.0


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
