"""Rows written before payments were kept per Razorpay payment: converted at start-up, once.

Before, ``payments`` held one row per Razorpay *order* (``orderId`` unique) telling the order's
story (created, failed, captured, refunded). ``Runtime.open`` calls ``drop_indexes`` before
creating the indexes and ``convert`` after; both are idempotent (a converted row carries
``version``), and replicas starting together convert each row once.

- Each old row's order becomes an ``orders`` document: ``paid`` when it was captured, else
  ``open`` and still reconciled on its old schedule; the current order of the pending
  enrollment that named it.
- A row whose order was paid (captured, refunded) stays, under the same id (enrollments name
  it in ``paymentId``), as the row of that payment: its capture and its refunded sum (one refund
  entry, ``legacy``, since old rows kept only the sum) become movements, so revenue is
  unchanged. It is not re-checked for refunds (a refund fetched now could not be told apart
  from the sum already counted); webhooks still apply to it.
- A row of a failed attempt becomes that failed payment's row. A row of an order never tried is
  deleted (it was no payment); the pending enrollment that named it names nothing, as a new
  one does until it is paid.
- Free and simulated rows gain their movements.
- The unique index on ``orderId`` (an order has many payments now) and the plain one on
  ``providerPaymentId`` (unique now) are dropped; ``lms.db.INDEXES`` creates what replaces them.
"""
import logging
from datetime import timedelta

from pymongo.errors import DuplicateKeyError

from ..db import new_id
from ..learning import enrollments
from . import RAZORPAY, ledger, states

log = logging.getLogger("lms.payments")
LEGACY = {"version": {"$exists": False}}
ORDER_TTL = timedelta(minutes=30)


def drop_indexes(db):
    for name, spec in db.payments.index_information().items():
        key = [tuple(k) for k in spec["key"]]
        if (key == [("orderId", 1)] and spec.get("unique")) or \
                (key == [("providerPaymentId", 1)] and not spec.get("unique")):
            db.payments.drop_index(name)


def convert(db):
    """Convert every old row; returns how many were converted."""
    converted = 0
    for row in db.payments.find(LEGACY):
        fields = _razorpay(db, row) if row["provider"] == RAZORPAY else _instant(row)
        if fields is None:
            converted += ledger.forget_legacy(db, row)
            if row.get("enrollmentId"):
                enrollments.attach_payment(db, row["enrollmentId"], row["_id"], None)
        else:
            converted += ledger.convert_legacy(db, row, fields)
    if converted:
        log.info("payments: converted %s rows kept per order to rows kept per payment", converted)
    return converted


def _history(row):
    return [{**{k: v for k, v in h.items() if k != "status"}, "event": h.get("status"), "status": h.get("status")}
            for h in row.get("history") or ()]


def _instant(row):
    at = row.get("capturedAt") or row["createdAt"]
    moved = [{"kind": "capture", "amount": row["amount"], "at": at}] if row["amount"] else []
    return {"movements": moved, "refunds": [], "disputes": [], "amountRefunded": 0, "amountDisputed": 0,
            "duplicate": False, "method": row["provider"], "authorizedAt": at, "history": _history(row)}


def _razorpay(db, row):
    paid = row["status"] in ("captured", "refunded") and row.get("providerPaymentId")
    attempts = [h["paymentId"] for h in row.get("history") or () if h.get("status") == "failed" and h.get("paymentId")]
    _order_of(db, row, paid)
    if not paid and not attempts:
        return None
    raw = row.get("rawResponse") if isinstance(row.get("rawResponse"), dict) else {}
    fields = {"refunds": [], "disputes": [], "movements": [], "amountDisputed": 0, "duplicate": False,
              "method": raw.get("method"), "madeAt": None, "history": _history(row), "checks": 0,
              "nextCheckAt": None}
    if paid:
        captured = row.get("capturedAt") or row["updatedAt"]
        refunded = row.get("amountRefunded") or (row["amount"] if row["status"] == "refunded" else 0)
        fields.update(authorizedAt=captured, capturedAt=captured,
                      movements=[{"kind": "capture", "amount": row["amount"], "at": captured}])
        if refunded:
            when = row.get("refundedAt") or row["updatedAt"]
            fields["refunds"] = [{"id": "legacy", "amount": refunded, "status": "processed", "createdAt": when,
                                  "updatedAt": when}]
            fields["movements"].append({"kind": "refund", "amount": refunded, "at": when, "ref": "legacy"})
    else:
        fields.update(providerPaymentId=attempts[-1], status="failed", failedAt=row.get("failedAt") or row["updatedAt"])
    fields["amountRefunded"] = sum(r["amount"] for r in fields["refunds"])
    fields["status"] = states.status({**row, **fields})
    return fields


def _order_of(db, row, paid):
    enrollment = db.enrollments.find_one({"_id": row.get("enrollmentId")}) or {}
    current = enrollment.get("status") == "pending" and enrollment.get("paymentId") == row["_id"]
    doc = {"_id": new_id(), "userId": row["userId"], "courseId": row["courseId"], "enrollmentId": row["enrollmentId"],
           "amount": row["amount"], "currency": row["currency"], "status": "paid" if paid else "open",
           "current": current, "createdAt": row["createdAt"], "expiresAt": row["createdAt"] + ORDER_TTL,
           "paidAt": (row.get("capturedAt") or row["updatedAt"]) if paid else None, "mismatches": [],
           "nextCheckAt": None if paid else row.get("nextCheckAt"), "checks": row.get("checks", 0)}
    try:
        db.orders.update_one({"orderId": row["orderId"]}, {"$setOnInsert": doc}, upsert=True)
    except DuplicateKeyError:
        pass  # another replica converted it a moment ago
