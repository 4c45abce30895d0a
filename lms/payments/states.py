"""What Razorpay's entities say about one payment, and what that changes in our row: pure
functions, no database.

Razorpay tells the same story several times and out of order (a webhook and its retries, the
Checkout handler, the API when reconciling), so a row only ever learns: it is authorised once
and captured once; ``failed`` is believed only while nothing better is known (a late
authorisation follows a failure, never the other way round); refunds and disputes are kept by
their Razorpay ids and only move forward (a refund pending -> processed or failed; a dispute
never leaves won, lost or closed). A stale snapshot therefore changes nothing.

``movements`` are the money that moved, the one thing revenue is summed from: ``capture`` (+),
``refund`` and ``dispute_lost`` (-). A refund moves money only back from a captured payment
(Razorpay's automatic refund of a payment never captured moved none), and what is taken back
never exceeds what was captured (should a lost dispute also come as a refund, it is not
counted twice).
"""
import re
from dataclasses import dataclass
from datetime import datetime, timezone

PAYMENT_STATES = ("created", "authorized", "captured", "refunded", "failed")  # Razorpay's
OPEN_DISPUTE = ("open", "under_review", "action_required")
DISPUTE_RANK = {"open": 0, "under_review": 1, "action_required": 1, "won": 2, "lost": 2, "closed": 2}
REFUND_RANK = {"pending": 0, "processed": 1, "failed": 1}
ERROR_FIELDS = ("code", "description", "source", "step", "reason")
TAKEN_BACK = ("refund", "dispute_lost")


@dataclass(frozen=True)
class Facts:
    """One snapshot of a Razorpay payment, with the refund or dispute a delivery is about."""
    payment_id: str
    order_id: object  # None: not a payment of an order (another integration)
    amount: object  # as received; checked against the order before anything is merged
    currency: object
    status: str
    captured: bool
    method: str = None
    error: dict = None
    made_at: datetime = None
    refund: dict = None
    dispute: dict = None


def razorpay_id(value, prefix):
    return isinstance(value, str) and re.fullmatch(rf"{prefix}_[A-Za-z0-9]{{1,40}}", value) is not None


def _time(value):
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2 ** 33:
        return datetime.fromtimestamp(value, timezone.utc)
    return None


def _count(value):
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _text(value, limit=500):
    return value[:limit] if isinstance(value, str) else None


def read_payment(entity):
    """The ``Facts`` of a payment entity, or None when it is not one."""
    if not isinstance(entity, dict) or not razorpay_id(entity.get("id"), "pay") or \
            entity.get("status") not in PAYMENT_STATES:
        return None
    status = entity["status"]
    error = {key: _text(entity.get(f"error_{key}")) for key in ERROR_FIELDS} if status == "failed" else None
    return Facts(entity["id"], entity.get("order_id") if razorpay_id(entity.get("order_id"), "order") else None,
                 entity.get("amount"), entity.get("currency"), status,
                 entity.get("captured") is True or status == "captured",
                 _text(entity.get("method"), 32), error, _time(entity.get("created_at")))


def read_refund(entity, payment_id):
    """A refund entity of ``payment_id`` as ``{id, amount, status, createdAt}``, or None."""
    if not isinstance(entity, dict) or not razorpay_id(entity.get("id"), "rfnd") or \
            entity.get("payment_id") != payment_id or entity.get("status") not in REFUND_RANK or \
            not _count(entity.get("amount")):
        return None
    return {"id": entity["id"], "amount": entity["amount"], "status": entity["status"],
            "createdAt": _time(entity.get("created_at"))}


def read_dispute(entity, payment_id, status=None):
    """A dispute entity of ``payment_id``; ``status`` (from the event's name) overrides its own."""
    status = status or (entity.get("status") if isinstance(entity, dict) else None)
    if not isinstance(entity, dict) or not razorpay_id(entity.get("id"), "disp") or \
            entity.get("payment_id") != payment_id or status not in DISPUTE_RANK or \
            _count(entity.get("amount")) is None:
        return None
    return {"id": entity["id"], "amount": entity["amount"], "status": status,
            "amountDeducted": _count(entity.get("amount_deducted")) or 0, "phase": _text(entity.get("phase"), 40),
            "reasonCode": _text(entity.get("reason_code"), 100), "respondBy": _time(entity.get("respond_by")),
            "createdAt": _time(entity.get("created_at"))}


def facts_of(row, refund=None, dispute=None):
    """What our row already knows, as ``Facts`` (to apply a refund or dispute fetched on its own)."""
    status = "captured" if row.get("capturedAt") else "authorized" if row.get("authorizedAt") else "created"
    return Facts(row["providerPaymentId"], row["orderId"], row["amount"], row["currency"], status,
                 bool(row.get("capturedAt")), refund=refund, dispute=dispute)


# --- the row's state ----------------------------------------------------------------------------

def taken_back(row):
    return sum(m["amount"] for m in row.get("movements") or () if m["kind"] in TAKEN_BACK)


def status(row):
    """The payment's status, from what the row knows."""
    disputes = row.get("disputes") or ()
    if row.get("capturedAt"):
        if any(d["status"] == "lost" for d in disputes) or taken_back(row) >= row["amount"] > 0:
            return "refunded"
        if any(d["status"] in OPEN_DISPUTE for d in disputes):
            return "disputed"
        return "partially_refunded" if taken_back(row) else "captured"
    if any(r["status"] == "processed" for r in row.get("refunds") or ()):
        return "refunded"  # an authorised payment Razorpay refunded by itself: no money moved
    if row.get("authorizedAt"):
        return "authorized"
    return "failed" if row.get("failedAt") else "created"


def standing(row):
    """Whether this payment grants access: captured, not fully refunded, not lost in a dispute
    (an open dispute keeps access until it is lost)."""
    return bool(row and row.get("capturedAt")) and status(row) != "refunded"


def merge(row, facts, at, via):
    """What ``facts`` change in ``row``: (the fields to set, the history events). Nothing when
    the snapshot tells nothing new."""
    new = {"refunds": [dict(r) for r in row.get("refunds") or ()],
           "disputes": [dict(d) for d in row.get("disputes") or ()],
           "movements": list(row.get("movements") or ())}
    events = []

    def event(name, **details):
        events.append({"at": at, "event": name, "via": via, **details})

    if facts.method and not row.get("method"):
        new["method"] = facts.method
    if facts.made_at and not row.get("madeAt"):
        new["madeAt"] = facts.made_at  # when the customer paid: an order's expiry is judged by it
    authorized = facts.captured or facts.status in ("authorized", "captured", "refunded")
    if authorized and not row.get("authorizedAt"):
        new["authorizedAt"] = at
        event("authorized")
    if facts.captured and not row.get("capturedAt"):
        new["capturedAt"] = at
        new["movements"].append({"kind": "capture", "amount": row["amount"], "at": at})
        event("captured", amount=row["amount"])
    if facts.status == "failed" and not (authorized or row.get("authorizedAt") or row.get("failedAt")):
        new["failedAt"], new["lastError"] = at, facts.error
        event("failed", **{k: v for k, v in (facts.error or {}).items() if k in ("code", "reason") and v})
    captured = bool(new.get("capturedAt") or row.get("capturedAt"))
    if facts.refund:
        _merge_refund(row, new, facts.refund, captured, at, event)
    if facts.dispute:
        _merge_dispute(row, new, facts.dispute, captured, at, event)
    after = {**row, **new}
    new["amountRefunded"] = sum(r["amount"] for r in new["refunds"] if r["status"] == "processed")
    new["amountDisputed"] = sum(m["amount"] for m in new["movements"] if m["kind"] == "dispute_lost")
    new["status"] = status(after)
    if new["status"] == "refunded" and not row.get("refundedAt"):
        new["refundedAt"] = at
    for entry in events:
        entry["status"] = new["status"]
    changes = {k: v for k, v in new.items() if row.get(k) != v}
    return (changes, events) if events or changes else ({}, [])


def _room(row, new):
    """What can still be taken back from a captured payment."""
    return max(0, row["amount"] - taken_back(new))


def _merge_refund(row, new, refund, captured, at, event):
    found = next((r for r in new["refunds"] if r["id"] == refund["id"]), None)
    if found is None:
        new["refunds"].append({"id": refund["id"], "amount": refund["amount"], "status": refund["status"],
                               "createdAt": refund["createdAt"], "updatedAt": at})
    elif REFUND_RANK[refund["status"]] > REFUND_RANK[found["status"]]:
        found.update(status=refund["status"], updatedAt=at)
    else:
        return
    event(f"refund.{refund['status']}", refundId=refund["id"], amount=refund["amount"])
    if refund["status"] == "processed" and captured:
        new["movements"].append({"kind": "refund", "amount": min(refund["amount"], _room(row, new)),
                                 "at": refund["createdAt"] or at, "ref": refund["id"]})


def _merge_dispute(row, new, dispute, captured, at, event):
    found = next((d for d in new["disputes"] if d["id"] == dispute["id"]), None)
    fields = {k: dispute[k] for k in ("amount", "status", "phase", "reasonCode", "respondBy")}
    if found is None:
        new["disputes"].append({"id": dispute["id"], **fields, "createdAt": dispute["createdAt"], "updatedAt": at})
    elif found["status"] != dispute["status"] and DISPUTE_RANK[found["status"]] < 2 and \
            DISPUTE_RANK[dispute["status"]] >= DISPUTE_RANK[found["status"]]:
        found.update(fields, updatedAt=at)
    else:
        return
    event(f"dispute.{dispute['status']}", disputeId=dispute["id"], amount=dispute["amount"])
    if dispute["status"] == "lost" and captured:
        lost = dispute["amountDeducted"] or dispute["amount"]
        new["movements"].append({"kind": "dispute_lost", "amount": min(lost, _room(row, new)), "at": at,
                                 "ref": dispute["id"]})
