"""Enrolling, and paying for it: free courses, simulated payments, and Razorpay Checkout.

This is where enrollments and payments meet: an enrollment is written first as ``pending`` and
activated after its payment is recorded, so a failure in between leaves a pending enrollment
that the next attempt completes, never a paid course without access.

Decisions:
- One open order per enrollment. The enrollment's ``paymentId`` names its order's row and is
  set by a compare-and-set (``enrollments.attach_payment``). Racing enroll requests may each
  create an order at Razorpay, but only one is attached; the others' rows are deleted before
  anyone saw their order ids (an unused Razorpay order costs nothing). Re-enrolling while
  pending returns the attached order while it is still open and for the course's current price.
- Checkout's confirmation trusts its signature for the amount: it binds the payment to our
  order, whose amount and currency we fixed when creating it.
"""
from .. import audit
from ..errors import BadRequest, Conflict, Forbidden, NotFound
from ..learning import enrollments
from . import OPEN, RAZORPAY, ledger, orders

PAYMENT_MODES = ("razorpay", "simulated")


def enroll(db, razorpay, user_id, course_id, payment_mode, actor, *, allow_simulated):
    """Enroll in a published course. Returns (enrollment, order) where ``order`` is what
    Checkout needs for a Razorpay order (else None)."""
    course = db.courses.find_one({"_id": course_id, "status": "published"})
    if not course:
        raise NotFound("Course not found")
    enrollment = enrollments.open_pending(db, user_id, course)
    if course["price"] == 0:
        provider = "free"
    elif payment_mode == "simulated":
        if not allow_simulated:
            raise Forbidden("Simulated payments are disabled on this server",
                            code="simulated_payments_disabled")
        provider = "simulated"
    else:
        order = open_order(db, razorpay, enrollment, course, actor)
        return db.enrollments.find_one({"_id": enrollment["_id"]}), order  # now naming its order
    payment = ledger.record_instant(db, enrollment, course, provider)
    activated, won = enrollments.activate_once(db, enrollment["_id"], payment["_id"], actor)
    if not won:
        # Another request enrolled the same user in the same course a moment earlier.
        ledger.discard(db, payment, "captured")
        raise Conflict("You are already enrolled in this course", code="already_enrolled",
                       extra={"enrollment": enrollments.public(activated)})
    return activated, None


def open_order(db, razorpay, enrollment, course, actor):
    """The Razorpay order that pays for this pending enrollment, as Checkout needs it:
    ``{id, amount, currency, keyId}``. Reuses the attached order while it can still be paid."""
    orders.require(razorpay)
    current = enrollment.get("paymentId") and db.payments.find_one({"_id": enrollment["paymentId"]})
    if current and current["status"] == "captured":
        # Paid, but the activation that follows a capture did not happen (a crash between the
        # two writes): finish it rather than sell the course twice.
        enrollments.activate(db, enrollment["_id"], current["_id"], actor)
        raise Conflict("You are already enrolled in this course", code="already_enrolled")
    if current and current["provider"] == RAZORPAY and current["status"] in OPEN and \
            (current["amount"], current["currency"]) == (course["price"], course["currency"]):
        ledger.recheck_later(db, current)
        return orders.for_checkout(razorpay, current)
    row = orders.create(db, razorpay, enrollment, course)
    if enrollments.attach_payment(db, enrollment["_id"], enrollment.get("paymentId"), row["_id"]):
        audit.record(db, actor, "payment.order_created", "payment", row["_id"], orderId=row["orderId"],
                     amount=row["amount"], currency=row["currency"], enrollmentId=enrollment["_id"])
        return orders.for_checkout(razorpay, row)
    # Another request attached its order first: use that one; nobody has seen ours.
    ledger.discard(db, row, "created")
    fresh = db.enrollments.find_one({"_id": enrollment["_id"], "status": "pending"})
    if fresh is None:
        raise Conflict("You are already enrolled in this course", code="already_enrolled")
    return open_order(db, razorpay, fresh, course, actor)


def confirm(db, razorpay, user_id, order_id, provider_payment_id, signature, actor):
    """Checkout's success handler: ``razorpay_order_id|razorpay_payment_id`` signed with the key
    secret. Captures this user's order and activates the enrollment (once; a webhook may have
    already). Returns (payment, enrollment)."""
    orders.require(razorpay)
    if not razorpay.checkout_signed(order_id, provider_payment_id, signature):
        audit.record(db, actor, "payment.verify_rejected", "payment", order_id, reason="bad signature",
                     providerPaymentId=provider_payment_id)
        raise BadRequest("The payment signature does not match", code="invalid_signature")
    row = db.payments.find_one({"orderId": order_id, "provider": RAZORPAY})
    if not row or row["userId"] != user_id:
        raise NotFound("Payment not found")
    ledger.capture(db, row, provider_payment_id, None, actor, "checkout")
    row = db.payments.find_one({"_id": row["_id"]})
    return row, db.enrollments.find_one({"_id": row["enrollmentId"]})

