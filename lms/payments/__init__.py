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
from ..schema import Integer, OneOf, Shape, Text, Timestamp

RAZORPAY = "razorpay"
PROVIDERS = (RAZORPAY, "simulated", "free")
STATUSES = ("created", "captured", "failed", "refunded")
OPEN = ("created", "failed")  # an order Checkout can still pay

PAYMENT = Shape("Payment", {
    "id": Text("_id"), "provider": OneOf(PROVIDERS), "orderId": Text(nullable=True),
    "providerPaymentId": Text(nullable=True), "userId": Text(), "courseId": Text(), "enrollmentId": Text(),
    "amount": Integer(description="In the smallest unit (paise)"), "currency": Text(),
    "amountRefunded": Integer(default=0), "status": OneOf(STATUSES), "createdAt": Timestamp(),
    "updatedAt": Timestamp(nullable=True), "capturedAt": Timestamp(nullable=True),
    "failedAt": Timestamp(nullable=True), "refundedAt": Timestamp(nullable=True)})
CHECKOUT_ORDER = Shape("CheckoutOrder", {
    "id": Text(description="The Razorpay order id: Checkout's order_id"), "amount": Integer(), "currency": Text(),
    "keyId": Text(description="Checkout's key")}, description="What Razorpay Checkout needs to take the payment")
public = PAYMENT.dump
