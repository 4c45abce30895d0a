"""The ``payments`` collection: every write to it is here, and so is the access a payment grants.

Decisions:
- ``payment.failed`` marks the row ``failed`` but the order stays open: ``failed`` rows are still
  captured by a later ``payment.captured`` (late authorisation, UPI retries), reused for
  Checkout and reconciled.
- Snapshots that carry amounts (the webhook, reconciliation) are checked against the order's
  amount and currency; a mismatch is audited and changes nothing.
- Refunds follow Razorpay's cumulative ``amount_refunded`` (a stale snapshot never lowers it).
  A full refund makes the payment and the enrollment ``refunded`` (lessons close, certificates
  stay); a partial one is recorded in ``amountRefunded`` and keeps access.
- A capture activates the payment's enrollment in the same step (``enrollments.activate``, once),
  and a full refund ends it: this module is where a payment's state becomes a student's access.
"""
from datetime import timedelta

from pymongo import ReturnDocument

from .. import audit
from ..db import new_id, now
from ..learning import enrollments
from . import OPEN, RAZORPAY

RECHECK_AFTER = timedelta(minutes=15)  # reconcile an order this long after it was handed out ...
RECHECK_MAX = timedelta(hours=6)  # ... then again at doubling intervals up to this ...
MAX_CHECKS = 10  # ... this many times (about a day and a half): then webhooks alone
CHECK_LEASE = timedelta(minutes=1)  # one worker checks an order at a time; a failed check retries


# --- rows we create ---------------------------------------------------------------------------

def record_instant(db, enrollment, course, provider):
    """The row of a payment that needs no provider (``free`` or ``simulated``): captured now."""
    stamp = now()
    payment = {"_id": new_id(), "provider": provider, "orderId": None, "providerPaymentId": None,
               "userId": enrollment["userId"], "courseId": course["_id"], "enrollmentId": enrollment["_id"],
               "amount": course["price"] if provider != "free" else 0, "currency": course["currency"],
               "status": "captured", "rawResponse": None, "createdAt": stamp, "updatedAt": stamp,
               "capturedAt": stamp, "history": [{"status": "captured", "at": stamp}]}
    db.payments.insert_one(payment)
    return payment


def insert_order(db, payment_id, enrollment, course, order):
    """The row of a Razorpay order just created for ``enrollment``."""
    stamp = now()
    row = {"_id": payment_id, "provider": RAZORPAY, "orderId": order["id"], "providerPaymentId": None,
           "userId": enrollment["userId"], "courseId": course["_id"], "enrollmentId": enrollment["_id"],
           "amount": order["amount"], "currency": order["currency"], "amountRefunded": 0, "status": "created",
           "rawResponse": order, "history": [{"status": "created", "at": stamp}], "createdAt": stamp,
           "updatedAt": stamp, "capturedAt": None, "failedAt": None, "refundedAt": None,
           "nextCheckAt": stamp + RECHECK_AFTER, "checks": 0}
    db.payments.insert_one(row)
    return row


def discard(db, payment, status):
    """Delete a row nobody will ever see (lost a race), if it is still in ``status``."""
    db.payments.delete_one({"_id": payment["_id"], "status": status})


def recheck_later(db, row):
    """An open order handed out again: reconcile it 15 minutes from now, afresh."""
    db.payments.update_one({"_id": row["_id"], "status": {"$in": OPEN}},
                           {"$set": {"nextCheckAt": now() + RECHECK_AFTER, "checks": 0}})


# --- reconciliation's bookkeeping ---------------------------------------------------------------

def due_checks(db, limit, at):
    return list(db.payments.find({"provider": RAZORPAY, "status": {"$in": OPEN}, "nextCheckAt": {"$lte": at}},
                                 {"orderId": 1, "nextCheckAt": 1, "checks": 1}
                                 ).sort([("nextCheckAt", 1), ("_id", 1)]).limit(limit))


def take_check(db, row, at):
    """Lease this order's check to the caller; False when another worker is checking it."""
    return db.payments.update_one({"_id": row["_id"], "nextCheckAt": row["nextCheckAt"]},
                                  {"$set": {"nextCheckAt": at + CHECK_LEASE}}).modified_count == 1


def checked(db, row, at):
    """Count one check of an open order and schedule the next (doubling), or none after ``MAX_CHECKS``."""
    checks = row.get("checks", 0) + 1
    later = at + min(RECHECK_AFTER * 2 ** checks, RECHECK_MAX) if checks < MAX_CHECKS else None
    db.payments.update_one({"_id": row["_id"], "status": {"$in": OPEN}},
                           {"$set": {"nextCheckAt": later, "checks": checks}})


# --- what Razorpay tells us ---------------------------------------------------------------------

def apply_payment(db, entity, actor, via):
    """Bring our row of ``entity['order_id']`` in line with this snapshot of a Razorpay payment:
    captured (or refunded after a capture) captures and activates, failed records the failure,
    ``amount_refunded`` records refunds. Returns what changed (``unchanged`` for a replay)."""
    pid, order_id, status = entity.get("id"), entity.get("order_id"), entity.get("status")
    if not all(isinstance(v, str) for v in (pid, order_id, status)):
        return "malformed"
    row = db.payments.find_one({"orderId": order_id, "provider": RAZORPAY})
    if row is None:
        return "unknown_order"  # another integration on the same Razorpay account
    received = (entity.get("amount"), entity.get("currency"))
    if received != (row["amount"], row["currency"]):
        audit.record(db, actor, "payment.mismatch", "payment", row["_id"], orderId=order_id,
                     providerPaymentId=pid, expected={"amount": row["amount"], "currency": row["currency"]},
                     received={"amount": received[0], "currency": received[1]}, via=via)
        return "mismatch"
    outcome = "unchanged"
    # An auto-refund of a payment that was never captured says refunded with captured false.
    if status == "captured" or (status == "refunded" and entity.get("captured") is not False):
        outcome = "captured" if capture(db, row, pid, entity, actor, via) else outcome
    elif status == "failed":
        outcome = "failed" if _fail(db, row, entity, actor, via) else outcome
    refunded = entity.get("amount_refunded")
    if isinstance(refunded, int) and not isinstance(refunded, bool) and refunded > 0:
        outcome = _refund(db, row, entity, refunded, actor, via) or outcome
    return outcome


def capture(db, row, pid, entity, actor, via):
    """open -> captured, once; then activate the enrollment (itself once). Activating also after
    a replay repairs a crash between the two writes. True when this call captured."""
    stamp = now()
    changes = {"status": "captured", "providerPaymentId": pid, "capturedAt": stamp, "updatedAt": stamp,
               "nextCheckAt": None}
    if entity is not None:
        changes["rawResponse"] = entity
    captured = db.payments.find_one_and_update(
        {"_id": row["_id"], "status": {"$in": OPEN}},
        {"$set": changes,
         "$push": {"history": {"status": "captured", "at": stamp, "via": via, "paymentId": pid}}},
        return_document=ReturnDocument.AFTER)
    if captured:
        audit.record(db, actor, "payment.captured", "payment", row["_id"], orderId=row["orderId"],
                     providerPaymentId=pid, amount=row["amount"], currency=row["currency"], via=via)
    current = captured or db.payments.find_one({"_id": row["_id"]})
    if current["status"] == "captured":
        enrollments.activate(db, current["enrollmentId"], current["_id"], actor)
    return bool(captured)


def _fail(db, row, entity, actor, via):
    """Record a failed attempt once per Razorpay payment id; the order stays open."""
    pid, stamp = entity["id"], now()
    error = {key: entity.get(f"error_{key}") for key in ("code", "description", "source", "step", "reason")}
    failed = db.payments.find_one_and_update(
        {"_id": row["_id"], "status": {"$in": OPEN}, "history.paymentId": {"$ne": pid}},
        {"$set": {"status": "failed", "failedAt": stamp, "updatedAt": stamp, "lastError": error,
                  "rawResponse": entity},
         "$push": {"history": {"status": "failed", "at": stamp, "via": via, "paymentId": pid}}})
    if failed:
        audit.record(db, actor, "payment.failed", "payment", row["_id"], orderId=row["orderId"],
                     providerPaymentId=pid, errorCode=error["code"], errorDescription=error["description"],
                     via=via)
    return bool(failed)


def _refund(db, row, entity, total, actor, via):
    """Raise ``amountRefunded`` to Razorpay's cumulative ``total``; a full refund makes the
    payment and its enrollment ``refunded``. Returns what changed, or None."""
    stamp = now()
    update = {"$set": {"amountRefunded": total, "updatedAt": stamp, "rawResponse": entity}}
    if total < row["amount"]:  # a partial refund is no change of status, but its time counts for revenue
        update["$push"] = {"history": {"status": "partially_refunded", "at": stamp, "via": via,
                                       "amountRefunded": total}}
    grew = db.payments.find_one_and_update(
        {"_id": row["_id"], "status": {"$in": ["captured", "refunded"]}, "amountRefunded": {"$lt": total}},
        update, return_document=ReturnDocument.AFTER)
    current = grew or db.payments.find_one({"_id": row["_id"]})
    if current["status"] not in ("captured", "refunded"):
        return None  # never captured: nothing was paid, so nothing to take back
    if current["amountRefunded"] < current["amount"]:
        if grew:
            audit.record(db, actor, "payment.partially_refunded", "payment", row["_id"],
                         orderId=row["orderId"], amountRefunded=total, amount=row["amount"],
                         currency=row["currency"], via=via)
        return "partially_refunded" if grew else None
    refunded = db.payments.find_one_and_update(
        {"_id": row["_id"], "status": "captured"},
        {"$set": {"status": "refunded", "refundedAt": stamp, "updatedAt": stamp},
         "$push": {"history": {"status": "refunded", "at": stamp, "via": via}}})
    if refunded:
        audit.record(db, actor, "payment.refunded", "payment", row["_id"], orderId=row["orderId"],
                     amount=row["amount"], currency=row["currency"], via=via)
    enrollments.refund(db, current["enrollmentId"], current["_id"], actor)
    return "refunded" if refunded else None
