"""Payments: what students paid, as Razorpay tells it, and the access it grants.

Razorpay's unit of money is the *payment*, not the order: one order (what Checkout pays) may see
several payment attempts, and each has its own life. So there are two collections:

- ``orders``: one per Razorpay order we created for a pending enrollment (amount, currency,
  expiry, the reconciliation schedule). ``orders.py`` writes it.
- ``payments``: one row per Razorpay payment we were told about (``providerPaymentId`` unique),
  plus one per free or simulated enrollment. ``ledger.py`` writes it, and nothing else does.

A Razorpay payment's row moves through ``created -> authorized -> captured`` (or ``failed``,
which a late authorisation can still follow), then ``partially_refunded`` / ``refunded`` as
refunds are processed, ``disputed`` while a chargeback is open. A lost dispute counts as a
refund. A payment *stands* while it is captured and not fully refunded or lost in a dispute; an
enrollment is active while at least one of its payments stands (``access.py`` keeps the two in
step), so a refund of a payment that never granted access changes nothing but that payment.

    checkout    enrolling (free, simulated, a Razorpay order) and Checkout's confirmation
    orders      the Razorpay orders Checkout pays, their expiry and their checks
    states      what a Razorpay entity says, merged into a row (pure functions)
    ledger      every write to ``payments``
    access      what a change of a payment means: audit, access, receipt, admins told
    capture     capturing authorised payments (a queue the worker runs; Checkout's at once)
    refunds     refunds an admin asks for
    webhook     Razorpay's signed deliveries
    reconcile   asking Razorpay about what webhooks may have missed
    rejected    the count of deliveries and confirmations whose signature did not match
    receipts    the receipt mail on capture
    upgrade     rows written before payments were kept per Razorpay payment

Every source (the Checkout handler, the webhook, the worker's capture and reconciliation, an
admin's refund) ends in ``ledger.apply``: one check of order, amount and currency, then one
merge guarded by the row's ``version``, so any number of deliveries, in any order and at the
same moment, change the data (and the audit log) once.
"""
from dataclasses import dataclass
from datetime import timedelta

from ..schema import Anything, Boolean, Integer, ListOf, OneOf, Shape, Text, Timestamp

RAZORPAY = "razorpay"
PROVIDERS = (RAZORPAY, "simulated", "free")
STATUSES = ("created", "authorized", "captured", "partially_refunded", "refunded", "disputed", "failed")
REFUND_STATUSES = ("pending", "processed", "failed")
DISPUTE_STATUSES = ("open", "under_review", "action_required", "won", "lost", "closed")
METHODS = ("card", "upi", "netbanking", "wallet", "emi", "cardless_emi", "paylater", "bank_transfer")


@dataclass(frozen=True)
class Terms:
    """How this deployment takes payments (from the RAZORPAY_* and LMS_ORG_* settings)."""
    auto_capture: bool = False  # Razorpay captures by itself: wait for payment.captured
    order_ttl: timedelta = timedelta(minutes=30)  # an order is handed out again this long
    reconcile_days: int = 30  # captured payments are re-checked for refunds and disputes this long
    org_name: str = "LMS"
    org_address: str = ""

    @classmethod
    def of(cls, settings):
        return cls(settings.razorpay_auto_capture, timedelta(seconds=settings.razorpay_order_ttl),
                   settings.razorpay_reconcile_days, settings.org_name, settings.org_address)


@dataclass(frozen=True)
class Source:
    """Who tells us about a payment (an ``audit.Actor``), through what (``via``: checkout,
    webhook:<event>, capture, reconcile, admin), under which ``Terms``."""
    actor: object
    via: str
    terms: Terms = Terms()


REFUND = Shape("Refund", {
    "id": Text(description="Razorpay's refund id"), "amount": Integer(), "status": OneOf(REFUND_STATUSES),
    "createdAt": Timestamp(nullable=True), "updatedAt": Timestamp()})
DISPUTE = Shape("Dispute", {
    "id": Text(description="Razorpay's dispute id"), "amount": Integer(), "status": OneOf(DISPUTE_STATUSES),
    "phase": Text(nullable=True), "reasonCode": Text(nullable=True), "respondBy": Timestamp(nullable=True),
    "createdAt": Timestamp(nullable=True), "updatedAt": Timestamp()})
PAYMENT_EVENT = Shape("PaymentEvent", {
    "at": Timestamp(), "event": Text(description="authorized, captured, failed, refund.processed, dispute.lost, "
                                                 "duplicate, capture_declined, ..."),
    "status": Text(nullable=True, description="the payment's status after it"), "via": Text(nullable=True),
    "details": Anything(get=lambda event, _: {k: v for k, v in event.items()
                                              if k not in ("at", "event", "status", "via")})})
PAYMENT = Shape("Payment", {
    "id": Text("_id"), "provider": OneOf(PROVIDERS), "orderId": Text(nullable=True),
    "providerPaymentId": Text(nullable=True), "userId": Text(), "courseId": Text(), "enrollmentId": Text(),
    "amount": Integer(description="In the smallest unit (paise)"), "currency": Text(),
    "method": Text(nullable=True, description="card, upi, netbanking, wallet, ..."),
    "status": OneOf(STATUSES), "amountRefunded": Integer(default=0, description="Processed refunds"),
    "amountDisputed": Integer(default=0, description="Lost in disputes (a refund the bank made)"),
    "duplicate": Boolean(description="Paid while the enrollment already rested on another payment"),
    "disputed": Boolean(get=lambda row, _: any(d["status"] in ("open", "under_review", "action_required")
                                               for d in row.get("disputes") or ()),
                        description="A dispute is open"),
    "createdAt": Timestamp(), "updatedAt": Timestamp(nullable=True),
    "authorizedAt": Timestamp(nullable=True), "capturedAt": Timestamp(nullable=True),
    "failedAt": Timestamp(nullable=True), "refundedAt": Timestamp(nullable=True)})
PAYMENT_DETAIL = PAYMENT.extend("PaymentDetail", {
    "refunds": ListOf(REFUND), "disputes": ListOf(DISPUTE), "history": ListOf(PAYMENT_EVENT),
    "error": Anything(source="lastError", nullable=True, description="Razorpay's error_* fields of a failure")},
    description="A payment with its refunds, disputes and every change")
CHECKOUT_ORDER = Shape("CheckoutOrder", {
    "id": Text(description="The Razorpay order id: Checkout's order_id"), "amount": Integer(), "currency": Text(),
    "keyId": Text(description="Checkout's key"),
    "expiresAt": Timestamp(nullable=True, description="Enrolling again after this makes a new order")},
    description="What Razorpay Checkout needs to take the payment")
public = PAYMENT.dump
detail = PAYMENT_DETAIL.dump
