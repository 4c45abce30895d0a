"""Refunds an admin asks for (``POST /api/admin/payments/<id>/refund``).

Decisions:
- Only a captured payment can be refunded, by at most what is left of it (refunds already made
  or pending, and disputes lost, are taken off); no amount means all that is left. A simulated
  payment is refunded here, without Razorpay (development: it moved no money); a free
  enrollment's record has nothing to refund (409 ``not_refundable``).
- The refund is made through the SDK (normal speed, the reason and the admin in its notes) and
  Razorpay's answer goes through ``access.record`` like a ``refund.*`` webhook, which arrives
  later and changes nothing more: a processed full refund ends access at once, a pending one
  when Razorpay processes it.
- The request is audited (``payment.refund_requested``, with the reason) before Razorpay is
  called, so a refund whose answer is lost (a timeout) still has its who and why on record.
"""
from .. import audit
from ..db import new_id, now
from ..errors import Conflict, NotFound, RazorpayUnavailable, ValidationError
from . import RAZORPAY, Source, Terms, access, ledger, orders, states


def refundable(row):
    """What can still be refunded of ``row``."""
    asked = sum(r["amount"] for r in row.get("refunds") or () if r["status"] != "failed")
    return max(0, row["amount"] - asked - (row.get("amountDisputed") or 0))


def refund(db, razorpay, payment_id, amount, reason, actor, terms=Terms()):
    """Refund ``amount`` (None: all that is left) of a payment; returns (payment, enrollment)."""
    row = db.payments.find_one({"_id": payment_id})
    if row is None:
        raise NotFound("Payment not found")
    if row["provider"] == "free" or not row.get("capturedAt"):
        raise Conflict("Only a captured payment can be refunded", code="not_refundable")
    left = refundable(row)
    if left == 0:
        raise Conflict("This payment is refunded in full already", code="already_refunded")
    amount = amount or left
    if amount > left:
        raise ValidationError({"amount": f"must be at most {left}, what is left of this payment"})
    audit.record(db, actor, "payment.refund_requested", "payment", row["_id"], orderId=row["orderId"],
                 providerPaymentId=row["providerPaymentId"], refundAmount=amount, currency=row["currency"],
                 reason=reason)
    source = Source(actor, "admin", terms)
    if row["provider"] == RAZORPAY:
        after = _at_razorpay(db, orders.require(razorpay), row, amount, reason, source)
    else:
        refund = {"id": f"simulated_{new_id()}", "amount": amount, "status": "processed", "createdAt": now()}
        _, after, events = ledger.apply_to(db, row, states.facts_of(row, refund=refund), "admin")
        access.settle(db, after, events, source)
    return after, db.enrollments.find_one({"_id": row["enrollmentId"]})


def _at_razorpay(db, razorpay, row, amount, reason, source):
    entity = razorpay.refund(row["providerPaymentId"], amount, {"reason": reason[:255], "refundedBy": source.actor.id})
    found = states.read_refund(entity, row["providerPaymentId"])
    if found is None:
        raise RazorpayUnavailable(f"unexpected answer to the refund of {row['providerPaymentId']}")
    return access.record(db, states.facts_of(row, refund=found), source).row or row
