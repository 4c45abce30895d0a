"""Reconciliation: asking Razorpay about orders still open, for the webhooks that never came."""
from .. import audit
from ..db import now
from ..errors import RazorpayRejected, RazorpayUnavailable
from . import RAZORPAY, ledger


def reconcile(db, razorpay, limit=100):
    """Ask Razorpay about open orders handed out at least 15 minutes ago (then at doubling
    intervals, ``ledger.MAX_CHECKS`` times) and apply what it reports through
    ``ledger.apply_payment``, as if the webhook had said it. Stops at the first order Razorpay
    cannot answer for, so an outage costs one timeout per run. Returns how many orders were
    checked."""
    if razorpay is None:
        return 0
    actor, checked = audit.Actor(RAZORPAY, RAZORPAY), 0
    stamp = now()
    for row in ledger.due_checks(db, limit, stamp):
        if not ledger.take_check(db, row, stamp):
            continue  # another worker is checking it
        try:
            found = razorpay.order_payments(row["orderId"])
        except RazorpayUnavailable:
            break  # down: the lease brings this order back in a minute
        except RazorpayRejected:
            found = None  # refused (say, an order of other keys): a check all the same, so it backs off
        items = found.get("items") if isinstance(found, dict) else None
        for entity in sorted((i for i in items or [] if isinstance(i, dict)), key=_made_at):
            ledger.apply_payment(db, entity, actor, "reconcile")  # oldest first: a failed attempt, then its retry
        ledger.checked(db, row, stamp)
        checked += 1
    return checked


def _made_at(entity):
    made = entity.get("created_at")
    return made if isinstance(made, int) else 0
