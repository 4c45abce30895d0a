"""Razorpay orders: the one Checkout pays, created for a pending enrollment at the course's price."""
import logging

from ..db import new_id
from ..errors import RazorpayUnavailable, ServiceUnavailable
from . import ledger

log = logging.getLogger("lms.payments")


def require(razorpay):
    if razorpay is None:
        raise ServiceUnavailable("Razorpay payments are not configured on this server",
                                 code="razorpay_not_configured")
    return razorpay


def create(db, razorpay, enrollment, course):
    """Create an order at Razorpay and record its row (nothing is written when Razorpay fails,
    so a retry starts clean)."""
    payment_id = new_id()
    amount, currency = course["price"], course["currency"]
    order = razorpay.create_order(amount, currency, receipt=payment_id, notes={
        "paymentId": payment_id, "userId": enrollment["userId"], "courseId": course["_id"],
        "enrollmentId": enrollment["_id"]})
    if not isinstance(order, dict) or not isinstance(order.get("id"), str) or \
            (order.get("amount"), order.get("currency")) != (amount, currency):
        log.error("razorpay: unexpected answer to an order for %s %s: %r", amount, currency, order)
        raise RazorpayUnavailable(f"unexpected answer to an order for {amount} {currency}")
    return ledger.insert_order(db, payment_id, enrollment, course, order)


def for_checkout(razorpay, row):
    """What Razorpay Checkout needs to open the payment form for this order."""
    return {"id": row["orderId"], "amount": row["amount"], "currency": row["currency"], "keyId": razorpay.key_id}
