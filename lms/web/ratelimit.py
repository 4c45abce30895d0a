"""Rate limits counted in MongoDB, so every replica shares the same counters.

A route declares the rules it is counted under (``Route(..., limit=("login-ip", "login-email"))``);
the plugin counts each request under each of them before the handler runs, and a request past a
rule's limit is a 429 ``rate_limited`` with ``Retry-After``. Handlers never call the limiter.

Each (rule, key) has one counter document, whose window opens at its first hit and lasts the
rule's ``window``: a burst from a new key always falls in one window, wherever the clock is.
Counting is a single-document atomic ``$inc`` guarded by the window's end; opening a window is
an insert (a race of two first hits: the loser counts in the winner's window). Nothing relies
on the TTL index that deletes old counters: an expired window is reset by the next hit.

``hit`` takes the time as ``at`` (default: now), so a test moves to the next window by passing a
later time instead of sleeping.
"""
from dataclasses import dataclass
from datetime import timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from ..db import now
from ..errors import RateLimited


@dataclass(frozen=True)
class Rule:
    limit: int  # requests allowed ...
    window: int  # ... per this many seconds
    key: str  # what is counted: "ip" (the client address) or "email" (the body's e-mail)
    audit: bool = False  # the first request over the limit in a window leaves an audit entry


RULES = {
    "login-ip": Rule(30, 900, "ip", audit=True),
    "login-email": Rule(10, 900, "email", audit=True),
    "signup-ip": Rule(10, 3600, "ip", audit=True),
    "forgot-ip": Rule(10, 3600, "ip", audit=True),
    "forgot-email": Rule(3, 3600, "email", audit=True),
    "reset-ip": Rule(20, 3600, "ip", audit=True),
    "webhook-ip": Rule(600, 60, "ip"),
    "certificate-ip": Rule(120, 60, "ip"),
    "verify-pdf-ip": Rule(30, 600, "ip"),  # uploads of up to 5 MB each: fewer than lookups by id
}


def hit(db, name, key, *, at=None, on_trip=None):
    """Count one request for ``key`` under the rule ``name``; raise RateLimited past its limit.

    ``on_trip`` runs once per window, on the first request over the limit (to audit a burst
    without writing an entry for every rejected request).
    """
    rule = RULES[name]
    at = at or now()
    counter = _count(db.rateLimits, f"{name}:{key}", at, timedelta(seconds=rule.window))
    if counter["count"] > rule.limit:
        if counter["count"] == rule.limit + 1 and on_trip:
            on_trip()
        raise RateLimited((counter["resetAt"] - at).total_seconds())
    return counter


def _count(collection, counter_id, at, window):
    for _ in range(3):
        counter = collection.find_one_and_update(
            {"_id": counter_id, "resetAt": {"$gt": at}}, {"$inc": {"count": 1}},
            return_document=ReturnDocument.AFTER)
        if counter:
            return counter
        fresh = {"count": 1, "resetAt": at + window, "expiresAt": at + window}
        # The window is over (or was never opened): start the next one, once.
        counter = collection.find_one_and_update(
            {"_id": counter_id, "resetAt": {"$lte": at}}, {"$set": fresh}, return_document=ReturnDocument.AFTER)
        if counter:
            return counter
        try:
            collection.insert_one({"_id": counter_id, **fresh})
            return {"_id": counter_id, **fresh}
        except DuplicateKeyError:
            continue  # another request opened it a moment ago: count in its window
    raise RuntimeError(f"rate limit counter {counter_id} did not settle")
