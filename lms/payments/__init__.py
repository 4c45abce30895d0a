"""Payments: what a student paid for an enrollment, and what Razorpay tells us about it.

A paid enrollment's ``payments`` row goes created -> captured -> refunded (``failed`` on the way
when an attempt fails) while the enrollment goes pending -> active -> refunded. Free courses and
simulated payments get a row too (provider ``free`` or ``simulated``), captured at once.

    checkout    enrolling: free, simulated or a Razorpay order; Checkout's confirmation
    orders      creating a Razorpay order for an enrollment
    webhook     Razorpay's signed webhook deliveries
    reconcile   asking Razorpay about orders still open, for the webhooks that never came
    ledger      every write to the ``payments`` collection, and the access a payment grants

Three sources tell us what happened at Razorpay: the Checkout handler (``checkout.confirm``),
the webhook and the worker (``reconcile``). The webhook and the worker both end in
``ledger.apply_payment``, which brings our row in line with a snapshot of a Razorpay payment
entity; every write there is one single-document update guarded by the state it leaves, so any
number of deliveries, in any order and at the same moment, change the data (and the audit log)
once.
"""
from ..db import iso

RAZORPAY = "razorpay"
OPEN = ("created", "failed")  # an order Checkout can still pay


def public(payment):
    return {"id": payment["_id"], "provider": payment["provider"], "orderId": payment.get("orderId"),
            "providerPaymentId": payment.get("providerPaymentId"), "userId": payment["userId"],
            "courseId": payment["courseId"], "enrollmentId": payment["enrollmentId"],
            "amount": payment["amount"], "currency": payment["currency"],
            "amountRefunded": payment.get("amountRefunded", 0), "status": payment["status"],
            "createdAt": iso(payment["createdAt"]), "updatedAt": iso(payment.get("updatedAt")),
            "capturedAt": iso(payment.get("capturedAt")), "failedAt": iso(payment.get("failedAt")),
            "refundedAt": iso(payment.get("refundedAt"))}
