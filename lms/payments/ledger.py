"""The ``payments`` collection: every write to it is here.

Decisions:
- One row per Razorpay payment id (a unique index), made the first time any source tells us
  about that payment; the order Checkout paid is in ``orders``. Free and simulated
  enrollments get one row each, captured at once.
- A change is read, merged (``states.merge``) and written back guarded by the row's
  ``version``; a writer whose update missed (another changed the row meanwhile) reads and merges
  again. Only the writer whose update landed gets the change's events back, so the effects
  (audit, access, receipt) happen once however many deliveries race.
- Captured Razorpay payments are checked again for refunds and disputes (``CHECKS``, run by
  ``reconcile``) an hour after capture, then at doubling intervals up to three days apart, for
  as long as they were captured within ``Terms.reconcile_days``.
- The money that moves (``movements``, appended, never rewritten) and the free and simulated
  rows are counted in the day counters (``reports.stats``) by the writer whose write landed,
  right after it: the same guard that makes the effects happen once counts them once.
"""
from datetime import timedelta

from pymongo.errors import DuplicateKeyError

from ..db import new_id, now
from ..reports import stats
from . import RAZORPAY, states
from .checks import Checks

TRIES = 10  # merges of one row racing each other; each retry follows a change that landed
FIRST_CHECK, CHECK_CAP = timedelta(hours=1), timedelta(days=3)


def checks(days):
    """The refund checks of Razorpay payments captured in the last ``days``."""
    return Checks("payments", lambda at: {"provider": RAZORPAY, "capturedAt": {"$gte": at - timedelta(days=days)}},
                  first=FIRST_CHECK, cap=CHECK_CAP)


def _row(provider, enrollment, course_id, amount, currency, stamp, **fields):
    return {"_id": new_id(), "provider": provider, "orderId": None, "providerPaymentId": None,
            "userId": enrollment["userId"], "courseId": course_id, "enrollmentId": enrollment["_id"],
            "amount": amount, "currency": currency, "method": None, "status": "created", "amountRefunded": 0,
            "amountDisputed": 0, "duplicate": False, "refunds": [], "disputes": [], "movements": [],
            "history": [], "lastError": None, "rawResponse": None, "createdAt": stamp, "updatedAt": stamp,
            "madeAt": None, "authorizedAt": None, "capturedAt": None, "failedAt": None, "refundedAt": None,
            "nextCheckAt": None, "checks": 0, "version": 0, **fields}


def record_instant(db, enrollment, course, provider):
    """The row of a payment that needs no provider (``free`` or ``simulated``): captured now. A
    simulated payment moves pretend money (reported apart from revenue); a free one none."""
    stamp = now()
    amount = course["price"] if provider != "free" else 0
    row = _row(provider, enrollment, course["_id"], amount, course["currency"], stamp, status="captured",
               method=provider, authorizedAt=stamp, capturedAt=stamp,
               movements=[{"kind": "capture", "amount": amount, "at": stamp}] if amount else [],
               history=[{"at": stamp, "event": "captured", "status": "captured", "via": provider}])
    db.payments.insert_one(row)
    stats.paid_instantly(db, row)
    return row


def discard(db, payment, status):
    """Delete a row nobody will ever see (lost a race), if it is still in ``status``."""
    if db.payments.delete_one({"_id": payment["_id"], "status": status}).deleted_count:
        stats.paid_instantly(db, payment, -1)


def apply(db, order, facts, via, entity=None):
    """Merge ``facts`` (already checked against ``order``) into the row of its payment, making
    the row on first sight. Returns (row before or None, row after, events): events are empty
    when nothing changed, or when another writer made this very change first."""
    def fresh(at):
        return _row(RAZORPAY, {"userId": order["userId"], "_id": order["enrollmentId"]}, order["courseId"],
                    order["amount"], order["currency"], at, orderId=order["orderId"],
                    providerPaymentId=facts.payment_id)
    return _merge(db, {"providerPaymentId": facts.payment_id}, fresh, facts, via, entity)


def apply_to(db, row, facts, via):
    """``apply`` to a row known by its id (a simulated payment, refunded without Razorpay)."""
    return _merge(db, {"_id": row["_id"]}, None, facts, via, None)


def _merge(db, find, fresh, facts, via, entity):
    for _ in range(TRIES):
        before = db.payments.find_one(find)
        at = now()
        row = before or fresh(at)
        changes, events = states.merge(row, facts, at, via)
        if not changes and before is not None:
            return before, before, []
        changes.update(updatedAt=at, history=row["history"] + events, version=row["version"] + 1)
        if entity is not None:
            changes["rawResponse"] = entity
        if "capturedAt" in changes and row["provider"] == RAZORPAY:
            changes.update(nextCheckAt=at + FIRST_CHECK, checks=0)
        after = {**row, **changes}
        if before is None:
            try:
                db.payments.insert_one(after)
            except DuplicateKeyError:
                continue  # another delivery made the row a moment ago: merge into it
            stats.money_moved(db, after, after["movements"])
            return None, after, events
        if db.payments.update_one({"_id": row["_id"], "version": before.get("version")},
                                  {"$set": changes}).modified_count:
            stats.money_moved(db, after, after["movements"][len(before.get("movements") or ()):])
            return before, after, events
    raise RuntimeError(f"payment {facts.payment_id or find} did not settle after {TRIES} merges")


def note(db, row, event, via, *, once, **fields):
    """Add ``event`` to a row's history with ``fields`` set, unless the row already has
    ``once`` (a field that ``fields`` sets): a flag raised a second time changes nothing.
    True when this call raised it."""
    stamp = now()
    entry = {"at": stamp, "event": event, "status": row["status"], "via": via}
    return db.payments.update_one(
        {"_id": row["_id"], once: {"$in": [None, False]}},
        {"$set": {**fields, "updatedAt": stamp}, "$inc": {"version": 1}, "$push": {"history": entry}}
    ).modified_count == 1


def standing(db, enrollment_id):
    """The payments of an enrollment that grant access, the first captured first."""
    rows = db.payments.find({"enrollmentId": enrollment_id, "capturedAt": {"$ne": None}}).sort(
        [("capturedAt", 1), ("_id", 1)])
    return [row for row in rows if states.standing(row)]


def convert_legacy(db, row, fields):
    """Rewrite a row kept per order (``upgrade``) with ``fields``, once; 1 when this call did."""
    return db.payments.update_one({"_id": row["_id"], "version": {"$exists": False}},
                                  {"$set": {**fields, "version": 0}}).modified_count


def forget_legacy(db, row):
    """Delete a row kept per order that was no payment (``upgrade``); 1 when this call did."""
    return db.payments.delete_one({"_id": row["_id"], "version": {"$exists": False}}).deleted_count
