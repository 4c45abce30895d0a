"""Capturing authorised payments: Razorpay keeps the money only once a payment is captured,
and access starts only at capture.

Decisions:
- With ``RAZORPAY_AUTO_CAPTURE=1`` the Razorpay account captures by itself (Dashboard → Account
  & Settings → Payment capture) and the service waits for ``payment.captured``. Otherwise the
  service captures every authorised payment of its orders, the stored order's amount and
  currency, through the SDK.
- The webhook and reconciliation never hold a delivery while Razorpay is called: they queue the
  capture (``CAPTURES``, one job per payment), which the worker runs at once (it is woken) and
  retries after 10, 20, 40 and 80 s. Checkout's confirmation captures while the student waits
  for the answer. A capture Razorpay refuses (captured already, by another job or by the
  account; refunded meanwhile) is settled by fetching the payment: capturing is idempotent.
- Not captured, and so left to Razorpay's automatic refund of uncaptured payments (audited
  ``payment.capture_declined``): a payment for an enrollment that already rests on another
  payment (also flagged as a duplicate for the admins), and a payment made after its order
  expired (``RAZORPAY_ORDER_TTL``) when the order's price is no longer the course's: an old price
  is honoured only until its order expires. With automatic capture Razorpay has captured such
  a payment before we hear of it; it is then honoured (or flagged, when a duplicate).
"""
import logging

from pymongo.errors import DuplicateKeyError

from .. import audit
from ..db import now
from ..errors import RazorpayRejected, RazorpayUnavailable
from ..worker.queue import LeasedQueue
from . import Source, Terms, access, ledger, states

log = logging.getLogger("lms.payments")
CAPTURES = LeasedQueue("captures", waiting="queued", running="capturing", done="done")


def capturable(row):
    return bool(row) and row["provider"] == "razorpay" and row.get("authorizedAt") and \
        not row.get("capturedAt") and row["status"] == "authorized"


def decide(db, row, order, source):
    """What to do about a payment just recorded: ``capture``, ``awaiting_capture`` (Razorpay
    captures), ``capture_declined``, or None when it is not an authorised, uncaptured payment."""
    if not capturable(row):
        return None
    reason = _refusal(db, row, order, now())
    if reason:
        decline(db, row, reason, source)
        return "capture_declined"
    return "awaiting_capture" if source.terms.auto_capture else "capture"


def consider(db, recorded, source):
    """``decide``, queueing the capture (once per payment: a job that failed is armed again)."""
    decision = decide(db, recorded.row, recorded.order, source)
    if decision != "capture":
        return decision
    row = recorded.row
    try:
        CAPTURES.enqueue(db, {"_id": row["_id"], "paymentId": row["providerPaymentId"], "createdAt": now()})
    except DuplicateKeyError:
        if db.captures.update_one({"_id": row["_id"], "status": CAPTURES.failed},
                                  {"$set": {"status": CAPTURES.waiting, "attempts": 0, "nextAttemptAt": now()}}
                                  ).modified_count:
            CAPTURES.enqueued()
    return "capture_queued"


def _refusal(db, row, order, at):
    enrollment = db.enrollments.find_one({"_id": row["enrollmentId"]}, {"status": 1, "paymentId": 1})
    if enrollment and enrollment["status"] == "active" and enrollment["paymentId"] != row["_id"] and \
            states.standing(db.payments.find_one({"_id": enrollment["paymentId"]})):
        return "duplicate"
    course = db.courses.find_one({"_id": order["courseId"]}, {"price": 1, "currency": 1})
    late = order["expiresAt"] < (row.get("madeAt") or at)
    if late and (not course or (course["price"], course["currency"]) != (order["amount"], order["currency"])):
        return "order_expired"
    return None


def decline(db, row, reason, source):
    if ledger.note(db, row, "capture_declined", source.via, once="captureDeclined", captureDeclined=reason):
        audit.record(db, source.actor, "payment.capture_declined", "payment", row["_id"], reason=reason,
                     orderId=row["orderId"], providerPaymentId=row["providerPaymentId"], via=source.via)
    if reason == "duplicate":
        access.flag_duplicate(db, row, source)


def at_once(db, razorpay, recorded, source):
    """Checkout's confirmation: capture now what ``consider`` would queue. The row after."""
    if decide(db, recorded.row, recorded.order, source) != "capture":
        return recorded.row
    return capture(db, razorpay, recorded.row, recorded.order, source)


def capture(db, razorpay, row, order, source):
    """Capture ``row`` at Razorpay and record what Razorpay answers; the row after."""
    try:
        entity = razorpay.capture(row["providerPaymentId"], order["amount"], order["currency"])
    except RazorpayRejected:
        entity = razorpay.payment(row["providerPaymentId"])  # captured already, or refunded: ask
    facts = states.read_payment(entity)
    if facts is None or facts.payment_id != row["providerPaymentId"]:
        raise RazorpayUnavailable(f"unexpected answer to the capture of {row['providerPaymentId']}")
    return access.record(db, facts, source, entity, order).row or row


def run_due(db, razorpay, worker_id, terms=Terms(), limit=20):
    """The worker's task: capture queued payments until none is due (or ``limit`` were tried);
    returns how many were captured."""
    captured, source = 0, Source(audit.SYSTEM, "capture", terms)
    for _ in range(limit if razorpay else 0):
        job = CAPTURES.claim(db, worker_id)
        if not job:
            break
        row = db.payments.find_one({"_id": job["_id"]})
        order = row and db.orders.find_one({"orderId": row["orderId"]})
        due = capturable(row) and order is not None  # else captured (or refunded) meanwhile
        try:
            after = capture(db, razorpay, row, order, source) if due else row
        except (RazorpayUnavailable, RazorpayRejected) as exc:
            log.warning("capture of %s failed (attempt %s): %s", job["paymentId"], job["attempts"], exc)
            CAPTURES.retry_or_fail(db, job, worker_id, str(exc))
            continue
        CAPTURES.finish(db, job, worker_id, {"finishedAt": now(), "paymentStatus": after and after["status"]})
        captured += bool(due and after.get("capturedAt"))
    return captured
