"""Deliveries and confirmations whose signature did not match: counted, never stored.

Anyone can post to the webhook, and any signed-in user to Checkout's confirmation, so what a
rejected request says is not evidence of anything and is not kept (the audit trail records
only what authenticated actors and valid signatures did). Each rejection adds one to a counter
per kind (``webhook``, ``verify``) and UTC day, and writes a log line without the body; staff
see the counts with the admin list of payments (``totals``), for an alert on a sudden burst or
on Razorpay's deliveries failing after a secret rotation.
"""
from datetime import timedelta

from ..db import now

KINDS = ("webhook", "verify")
KEEP = timedelta(days=90)


def note(db, kind):
    stamp = now()
    day = stamp.date().isoformat()
    db.rejectedSignatures.update_one({"_id": f"{kind}:{day}"},
                                     {"$inc": {"count": 1}, "$set": {"lastAt": stamp},
                                      "$setOnInsert": {"kind": kind, "day": day, "expiresAt": stamp + KEEP}},
                                     upsert=True)


def totals(db, days=7):
    """{kind: {"today": n, "lastDays": n over ``days`` UTC days, "lastAt": time or None}}."""
    today = now().date()
    first = (today - timedelta(days=days - 1)).isoformat()
    out = {kind: {"today": 0, "lastDays": 0, "lastAt": None} for kind in KINDS}
    for doc in db.rejectedSignatures.find({"day": {"$gte": first}}):
        cell = out.get(doc["kind"])
        if cell is None:
            continue
        cell["lastDays"] += doc["count"]
        cell["today"] += doc["count"] if doc["day"] == today.isoformat() else 0
        cell["lastAt"] = max(filter(None, (cell["lastAt"], doc["lastAt"])))
    return out
