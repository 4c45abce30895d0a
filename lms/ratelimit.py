"""Rate limits counted in MongoDB, so every replica shares the same counters.

A fixed window per (rule, key): one atomic ``$inc`` upsert per hit. The counter documents expire
by TTL once their window is over; correctness never depends on that (the window start is part
of the document id).
"""
from datetime import timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from .db import now
from .errors import RateLimited

# rule -> (requests allowed, per window in seconds)
RULES = {
    "login-ip": (30, 900),
    "login-email": (10, 900),
    "signup-ip": (10, 3600),
    "forgot-ip": (10, 3600),
    "forgot-email": (3, 3600),
    "reset-ip": (20, 3600),
    "webhook-ip": (600, 60),
    "certificate-ip": (120, 60),
    "verify-pdf-ip": (30, 600),  # uploads of up to 5 MB each: fewer than lookups by id
}


def hit(db, rule, key, *, on_trip=None):
    """Count one request for ``key`` under ``rule``; raise RateLimited past the limit.

    ``on_trip`` runs once per window, on the first request over the limit (to audit a burst
    without writing an entry for every rejected request).
    """
    limit, window = RULES[rule]
    t = now()
    start = int(t.timestamp()) // window * window
    ends = start + window
    doc_id = f"{rule}:{key}:{start}"
    update = {"$inc": {"count": 1},
              "$setOnInsert": {"expiresAt": t + timedelta(seconds=ends - t.timestamp())}}
    for _ in range(2):  # two first hits racing on one upsert: the loser retries as an update
        try:
            doc = db.rateLimits.find_one_and_update({"_id": doc_id}, update, upsert=True,
                                                    return_document=ReturnDocument.AFTER)
            break
        except DuplicateKeyError:
            continue
    if doc is None:  # a racing upsert may answer None although its $inc was applied
        doc = db.rateLimits.find_one({"_id": doc_id})
    if doc["count"] > limit:
        if doc["count"] == limit + 1 and on_trip:
            on_trip()
        raise RateLimited(ends - t.timestamp())
