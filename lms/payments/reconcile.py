"""Reconciliation: asking Razorpay about what the webhooks may have missed.

- Open orders (``orders.CHECKS``: 15 minutes after they were handed out, then at doubling
  intervals): their payments, oldest first (a failed attempt, then its retry); an authorised
  one is captured as after the webhook; one whose ``amount_refunded`` says more than we know
  has its refunds fetched.
- Payments captured in the last ``RAZORPAY_RECONCILE_DAYS`` (``ledger.checks``: an hour after
  capture, then at doubling intervals up to three days apart): their refunds.
- Disputes created in those days (``disputes``, hourly): each one on a payment of ours.

Everything found goes through ``access.record``, as if the webhook had said it. Each run is
bounded (``limit`` documents of each kind, ``pages`` of disputes) and stops at the first
answer Razorpay cannot give, so an outage costs one timeout per run; the check's lease brings
what was not reached back a minute later.
"""
from datetime import timedelta

from ..audit import Actor
from ..db import now
from ..errors import RazorpayRejected, RazorpayUnavailable
from . import RAZORPAY, Source, Terms, access, capture, ledger, orders, states

DISPUTE_PAGE = 100


def reconcile(db, razorpay, limit=100, terms=Terms()):
    """Check the open orders and recently captured payments that are due; returns how many
    were checked."""
    if razorpay is None:
        return 0
    source, stamp, checked = Source(Actor(RAZORPAY, RAZORPAY), "reconcile", terms), now(), 0
    for schedule, check in ((orders.CHECKS, _order), (ledger.checks(terms.reconcile_days), _refunds)):
        for doc in schedule.due(db, stamp, limit):
            if not schedule.take(db, doc, stamp):
                continue  # another worker is checking it
            try:
                check(db, razorpay, doc, source)
            except RazorpayUnavailable:
                return checked  # down: the lease brings this one back in a minute
            except RazorpayRejected:
                pass  # refused (say, an order of other keys): a check all the same, so it backs off
            schedule.done(db, doc, stamp)
            checked += 1
    return checked


def _items(found):
    items = found.get("items") if isinstance(found, dict) else None
    return sorted((i for i in items or () if isinstance(i, dict)),
                  key=lambda i: i.get("created_at") if isinstance(i.get("created_at"), int) else 0)


def _order(db, razorpay, order, source):
    for entity in _items(razorpay.order_payments(order["orderId"])):
        facts = states.read_payment(entity)
        if facts is None:
            continue
        recorded = access.record(db, facts, source, entity)
        capture.consider(db, recorded, source)
        known = sum(r["amount"] for r in (recorded.row or {}).get("refunds", ()) if r["status"] != "failed")
        refunded = entity.get("amount_refunded")
        if recorded.row and isinstance(refunded, int) and refunded > known:
            _refunds(db, razorpay, recorded.row, source)


def _refunds(db, razorpay, row, source):
    for entity in _items(razorpay.refunds(row["providerPaymentId"])):
        refund = states.read_refund(entity, row["providerPaymentId"])
        if refund:
            access.record(db, states.facts_of(row, refund=refund), source)


def disputes(db, razorpay, terms=Terms(), pages=5):
    """Apply the disputes Razorpay has on our payments, created in the last
    ``terms.reconcile_days``; returns how many were on payments of ours."""
    if razorpay is None:
        return 0
    source, found = Source(Actor(RAZORPAY, RAZORPAY), "reconcile", terms), 0
    since = int((now() - timedelta(days=terms.reconcile_days)).timestamp())
    for page in range(pages):
        try:
            items = _items(razorpay.disputes(since, skip=page * DISPUTE_PAGE, count=DISPUTE_PAGE))
        except (RazorpayUnavailable, RazorpayRejected):
            break  # the next run asks again
        for entity in items:
            pid = entity.get("payment_id")
            row = states.razorpay_id(pid, "pay") and db.payments.find_one({"providerPaymentId": pid})
            dispute = row and states.read_dispute(entity, row["providerPaymentId"])
            if dispute:
                access.record(db, states.facts_of(row, dispute=dispute), source)
                found += 1
        if len(items) < DISPUTE_PAGE:
            break
    return found
