"""Rate limits counted in MongoDB, so every replica shares the same counters.

A route declares the rules it is counted under (``Route(..., limit=("login-ip", "login-email"))``);
the plugin applies them around the handler, and handlers never call the limiter. A rule counts
either every request (``counts="requests"``: counted before the handler runs) or only the
requests that fail with one of its ``failures`` codes (``counts="failures"``: checked before the
handler, counted after it failed), so that a limit which protects an account cannot be used to
lock its owner out by requests that succeed. A request past a rule's limit is a 429
``rate_limited`` with ``Retry-After``; every answer of a limited route carries the IETF
``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset`` headers of its tightest rule.

A rule's ``key`` says what is counted: ``"ip"`` (the client address), ``"user"`` (the signed-in
user), a body field's name (``"email"``), or a function of the request's injected values
(``actor``, ``user``, ``body``...) returning the key, or None for a request the rule leaves alone.

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
from . import guard


@dataclass(frozen=True)
class Rule:
    limit: int  # requests allowed ...
    window: int  # ... per this many seconds
    key: object  # what is counted: "ip", "user", a body field, or a function of the request
    audit: bool = False  # the first request over the limit in a window (of failures: the last allowed) is audited
    counts: str = "requests"  # or "failures": only answers with one of ``failures`` count
    failures: tuple = ()  # error codes that count, for counts="failures"
    per: str = None  # what the key is, for the API description (default: ``key`` when it is a name)

    def __post_init__(self):
        if self.per is None:
            object.__setattr__(self, "per", self.key if isinstance(self.key, str) else self.key.__name__)

    def key_of(self, supplied):
        if callable(self.key):
            return self.key(supplied)
        if self.key == "ip":
            return supplied["actor"].ip
        if self.key == "user":
            return supplied["user"]["id"] if supplied.get("user") else None
        return supplied["body"][self.key]


@dataclass(frozen=True)
class Count:
    """Where a key stands in its rule's window: for the RateLimit-* headers."""
    limit: int
    remaining: int
    reset: float  # seconds until the window ends


SIGN_IN_FAILURES = dict(counts="failures", failures=("invalid_credentials",), audit=True)
PASSWORD_FAILURES = dict(counts="failures", failures=("wrong_password",), audit=True)
RULES = {
    # Sign-in counts failures only (OWASP): per address, per known browser (a device cookie that
    # vouches for the e-mail), and per e-mail for every other browser, so that failures from
    # elsewhere never lock the owner's known browser out.
    "login-ip": Rule(30, 900, "ip", **SIGN_IN_FAILURES),
    "login-device": Rule(10, 900, guard.known_device, per="device", **SIGN_IN_FAILURES),
    "login-email": Rule(10, 900, guard.unknown_device, per="email (unknown devices)", **SIGN_IN_FAILURES),
    "signup-ip": Rule(10, 3600, "ip", audit=True),
    "forgot-ip": Rule(10, 3600, "ip", audit=True),
    "forgot-email": Rule(3, 3600, "email", audit=True),  # a reset link lives as long: see accounts.resets
    "reset-ip": Rule(20, 3600, "ip", audit=True),
    "verify-ip": Rule(20, 3600, "ip", audit=True),
    "resend-ip": Rule(10, 3600, "ip", audit=True),
    "resend-email": Rule(3, 3600, "email", audit=True),
    "password-user": Rule(10, 900, "user", **PASSWORD_FAILURES),  # a stolen session guessing the password
    "email-change-user": Rule(5, 3600, "user"),
    "export-user": Rule(10, 3600, "user"),
    "webhook-ip": Rule(600, 60, "ip"),
    "certificate-ip": Rule(120, 60, "ip"),
    "verify-pdf-ip": Rule(30, 600, "ip"),  # uploads of up to 5 MB each: fewer than lookups by id
}


def hit(db, name, key, *, at=None, on_trip=None):
    """Count one request for ``key`` under the rule ``name``; raise RateLimited past its limit.
    Returns the ``Count``.

    ``on_trip`` runs once per window, on the first request over the limit (to audit a burst
    without writing an entry for every rejected request).
    """
    rule = RULES[name]
    at = at or now()
    counter = _count(db.rateLimits, f"{name}:{key}", at, timedelta(seconds=rule.window))
    if counter["count"] > rule.limit:
        if counter["count"] == rule.limit + 1 and on_trip:
            on_trip()
        raise _limited(rule, counter, at)
    return _standing(rule, counter, at)


def check(db, name, key, *, at=None):
    """Where ``key`` stands under rule ``name`` without counting; RateLimited when it has used
    up its window (the check before a request whose failure alone would count)."""
    rule = RULES[name]
    at = at or now()
    counter = db.rateLimits.find_one({"_id": f"{name}:{key}", "resetAt": {"$gt": at}})
    if counter is None:
        return Count(rule.limit, rule.limit, rule.window)
    if counter["count"] >= rule.limit:
        raise _limited(rule, counter, at)
    return _standing(rule, counter, at)


def _standing(rule, counter, at):
    return Count(rule.limit, max(0, rule.limit - counter["count"]), (counter["resetAt"] - at).total_seconds())


def _limited(rule, counter, at):
    exc = RateLimited((counter["resetAt"] - at).total_seconds())
    exc.headers.update(headers(Count(rule.limit, 0, exc.retry_after)))
    return exc


def headers(count):
    """The IETF RateLimit-* headers of ``count``."""
    return {"RateLimit-Limit": str(count.limit), "RateLimit-Remaining": str(count.remaining),
            "RateLimit-Reset": str(max(0, int(count.reset + 0.999)))}


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
