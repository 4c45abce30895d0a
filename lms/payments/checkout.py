"""Enrolling, and paying for it: free courses, simulated payments, and Razorpay Checkout.

This is where enrollments and payments meet. A free or simulated enrollment is written as
``pending`` and activated after its payment row, so a failure in between leaves a pending
enrollment that the next attempt completes, never a paid course without access.

Decisions:
- A paid course needs ``paymentMode`` (a 400 naming it otherwise): the client says how it pays.
- No enrollment is written for Razorpay until its order exists at Razorpay, so a Razorpay that
  is down or unconfigured (502/503) leaves nothing behind. Enrolling again while pending hands
  out the current order while it can be (``orders.reusable``), else a new one.
- Checkout's confirmation proves with its signature (the key secret over ``order_id|payment_id``)
  which payment Checkout saw for our order, not what the payment is: the payment is fetched from
  Razorpay and goes through the same check and merge as a webhook (``access.record``); an
  authorised one is captured then and there, unless the account captures by itself.
"""
import logging

from ..db import now
from ..errors import BadRequest, Conflict, Forbidden, NotFound, RazorpayUnavailable, ValidationError
from ..learning import enrollments
from . import Source, Terms, access, capture, ledger, orders, rejected, states

log = logging.getLogger("lms.payments")
PAYMENT_MODES = ("razorpay", "simulated")


def _already(enrollment=None):
    return Conflict("You are already enrolled in this course", code="already_enrolled",
                    extra={"enrollment": enrollments.public(enrollment)} if enrollment else None)


def enroll(db, razorpay, user_id, course_id, payment_mode, actor, *, allow_simulated, terms=Terms()):
    """Enroll in a published course. Returns (enrollment, order) where ``order`` is what
    Checkout needs for a Razorpay order (else None)."""
    course = db.courses.find_one({"_id": course_id, "status": "published"})
    if not course:
        raise NotFound("Course not found")
    if course["price"] == 0:
        provider = "free"
    elif payment_mode is None:
        raise ValidationError({"paymentMode": "is required for a paid course: razorpay or simulated"})
    elif payment_mode == "simulated":
        if not allow_simulated:
            raise Forbidden("Simulated payments are disabled on this server", code="simulated_payments_disabled")
        provider = "simulated"
    else:
        return open_order(db, razorpay, user_id, course, actor, terms)
    enrollment = enrollments.open_pending(db, user_id, course)
    payment = ledger.record_instant(db, enrollment, course, provider)
    activated, won = enrollments.activate_once(db, enrollment["_id"], payment["_id"], actor)
    if not won:
        # Another request enrolled the same user in the same course a moment earlier.
        ledger.discard(db, payment, "captured")
        raise _already(activated)
    return activated, None


def open_order(db, razorpay, user_id, course, actor, terms):
    """(the pending enrollment, what Checkout needs for its order)."""
    orders.require(razorpay)
    held = db.enrollments.find_one({"userId": user_id, "courseId": course["_id"]})
    if held and held["status"] == "active":
        raise _already(held)
    if held and held["status"] == "pending":
        paid = ledger.standing(db, held["_id"])
        if paid:
            # Paid, but the activation that follows a capture did not happen (a crash between
            # the two writes): finish it rather than sell the course twice.
            access.align(db, paid[0], Source(actor, "checkout", terms))
            raise _already()
        current = orders.current(db, held["_id"])
        if current and orders.reusable(current, course["price"], course["currency"], now()):
            orders.recheck_later(db, current)
            return held, orders.for_checkout(razorpay, current)
    doc_id, order = orders.create(razorpay, user_id, course)
    enrollment = enrollments.open_pending(db, user_id, course)  # 409 when it became active meanwhile
    current = orders.attach(db, doc_id, order, enrollment, terms.order_ttl, actor)
    return db.enrollments.find_one({"_id": enrollment["_id"]}), orders.for_checkout(razorpay, current)


def confirm(db, razorpay, user_id, order_id, payment_id, signature, actor, terms=Terms()):
    """Checkout's success handler: ``razorpay_order_id|razorpay_payment_id`` signed with the key
    secret. Records the payment as Razorpay has it (capturing it when authorised) and activates
    the enrollment once it is captured. Returns (payment, enrollment)."""
    orders.require(razorpay)
    if not razorpay.checkout_signed(order_id, payment_id, signature):
        rejected.note(db, "verify")
        log.warning("checkout verification with a bad signature by user %s", user_id)
        raise BadRequest("The payment signature does not match", code="invalid_signature")
    order = orders.find(db, order_id)
    if not order or order["userId"] != user_id:
        raise NotFound("Payment not found")
    entity = razorpay.payment(payment_id)
    facts = states.read_payment(entity)
    if facts is None or facts.payment_id != payment_id:
        raise RazorpayUnavailable(f"unexpected answer for payment {payment_id}")
    source = Source(actor, "checkout", terms)
    recorded = access.record(db, facts, source, entity, order)
    if recorded.outcome == "mismatch":
        raise Conflict("The payment does not match its order", code="payment_mismatch")
    row = capture.at_once(db, razorpay, recorded, source)
    return row, db.enrollments.find_one({"_id": order["enrollmentId"]})
