"""Razorpay orders: what Checkout pays for a pending enrollment, at the course's price.

Decisions:
- The order is created at Razorpay before anything is written here, so a Razorpay failure
  leaves nothing behind; the ``orders`` document that follows is what a payment is checked
  against (its order id, amount and currency: ``check``, the one check of every source).
- One *current* order per enrollment, held by a unique index on the enrollments of current
  orders: racing requests may each create an order at Razorpay, but one document wins and
  every request hands out the winner's order (an unused Razorpay order costs nothing).
- The current order is handed out again while it is open, at the course's current price and
  younger than ``Terms.order_ttl``; otherwise a new one replaces it. A replaced order can
  still be paid (a Checkout tab left open) and is honoured (see ``capture``).
- Orders still open are asked about (``CHECKS``) 15 minutes after they were handed out, then at
  doubling intervals up to 6 hours apart, 10 times (about a day and a half), then webhooks alone.
"""
import logging
from datetime import timedelta

from pymongo.errors import DuplicateKeyError

from .. import audit
from ..db import find_one_and_update, new_id, now
from ..errors import RazorpayUnavailable, ServiceUnavailable
from . import CHECKOUT_ORDER
from .checks import Checks

log = logging.getLogger("lms.payments")
CHECKS = Checks("orders", lambda at: {"status": "open"}, first=timedelta(minutes=15), cap=timedelta(hours=6),
                max_checks=10)
TRIES = 5


def require(razorpay):
    if razorpay is None:
        raise ServiceUnavailable("Razorpay payments are not configured on this server",
                                 code="razorpay_not_configured")
    return razorpay


def create(razorpay, user_id, course):
    """Create an order at Razorpay for the course's price: (our id for it, Razorpay's order).
    Nothing is written."""
    doc_id = new_id()
    amount, currency = course["price"], course["currency"]
    order = razorpay.create_order(amount, currency, receipt=doc_id, notes={
        "orderRef": doc_id, "userId": user_id, "courseId": course["_id"]})
    if not isinstance(order, dict) or not isinstance(order.get("id"), str) or \
            (order.get("amount"), order.get("currency")) != (amount, currency):
        log.error("razorpay: unexpected answer to an order for %s %s: %r", amount, currency, order)
        raise RazorpayUnavailable(f"unexpected answer to an order for {amount} {currency}")
    return doc_id, order


def attach(db, doc_id, order, enrollment, ttl, actor):
    """Make Razorpay's ``order`` the enrollment's current one, replacing a current order that
    may no longer be handed out; returns the current order, which is another request's when it
    won a race (ours then stays unused, unseen)."""
    stamp = now()
    doc = {"_id": doc_id, "orderId": order["id"], "userId": enrollment["userId"], "courseId": enrollment["courseId"],
           "enrollmentId": enrollment["_id"], "amount": order["amount"], "currency": order["currency"],
           "status": "open", "current": True, "createdAt": stamp, "expiresAt": stamp + ttl, "paidAt": None,
           "mismatches": [], **CHECKS.start(stamp)}
    for _ in range(TRIES):
        try:
            db.orders.insert_one(doc)
        except DuplicateKeyError:
            held = current(db, enrollment["_id"])
            if held is None:
                continue  # replaced a moment ago: try again
            if reusable(held, order["amount"], order["currency"], now()):
                return held  # a racing request attached a fresh order first
            db.orders.update_one({"_id": held["_id"], "current": True}, {"$set": {"current": False}})
            continue
        audit.record(db, actor, "payment.order_created", "order", doc_id, orderId=order["id"], amount=order["amount"],
                     currency=order["currency"], enrollmentId=enrollment["_id"])
        return doc
    raise RuntimeError(f"enrollment {enrollment['_id']}: no current order after {TRIES} tries")


def current(db, enrollment_id):
    return db.orders.find_one({"enrollmentId": enrollment_id, "current": True})


def reusable(doc, amount, currency, at):
    """Whether Checkout may be given this order again."""
    return doc["status"] == "open" and (doc["amount"], doc["currency"]) == (amount, currency) and \
        at < doc["expiresAt"]


def recheck_later(db, doc):
    """An open order handed out again: reconcile it 15 minutes from now, afresh."""
    db.orders.update_one({"_id": doc["_id"], "status": "open"}, {"$set": CHECKS.start(now())})


def for_checkout(razorpay, doc):
    """What Razorpay Checkout needs to open the payment form for this order (``CHECKOUT_ORDER``)."""
    return CHECKOUT_ORDER.dump({"id": doc["orderId"], "amount": doc["amount"], "currency": doc["currency"],
                                "keyId": razorpay.key_id, "expiresAt": doc["expiresAt"]})


def find(db, order_id):
    return db.orders.find_one({"orderId": order_id}) if isinstance(order_id, str) else None


def check(order, facts, signed_order_id=None):
    """What is wrong with a payment of ``order`` (None when nothing): the order it names (and,
    from Checkout, the one the signature covers), its amount and its currency. The one check
    every source of payments goes through."""
    received = {"orderId": facts.order_id, "amount": facts.amount, "currency": facts.currency}
    expected = {"orderId": signed_order_id or order["orderId"], "amount": order["amount"],
                "currency": order["currency"]}
    if type(facts.amount) is not int or received != expected:
        return {"expected": expected, "received": received}
    return None


def note_mismatch(db, order, facts):
    """Remember that this payment did not match its order; True the first time."""
    return db.orders.update_one({"_id": order["_id"], "mismatches": {"$ne": facts.payment_id}},
                                {"$push": {"mismatches": facts.payment_id}}).modified_count == 1


def paid(db, order_id):
    """A payment of this order was captured: no more checks; never handed out again."""
    return find_one_and_update(db.orders, {"orderId": order_id, "status": "open"},
                               {"$set": {"status": "paid", "paidAt": now(), "nextCheckAt": None}}, after=True)
