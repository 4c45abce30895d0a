"""What a recorded change of a payment means: its audit entries, the student's access, the
receipt, and the admins told about what needs a person.

``record`` is the one way anything Razorpay says about a payment enters the service: the
order is looked up and checked (``orders.check``), the row merged (``ledger.apply``), and the
change acted on (``settle``).

Decisions:
- An enrollment is active while at least one of its payments stands (``states.standing``). A
  capture activates a pending (or refunded) enrollment. When the payment an enrollment rests
  on stops standing (fully refunded, dispute lost), the enrollment rests on another standing
  payment of it if there is one, else it is ``refunded`` (lessons close; progress and issued
  certificates stay, as earned). A payment the enrollment does not rest on changes nothing else.
- A capture for an enrollment already resting on another standing payment is a *duplicate*:
  flagged on the row, audited, and the admins notified (Razorpay refunds a second payment on
  the same order by itself; one on an older order an admin refunds).
- Access is aligned after every delivery, also one that changed nothing, so a crash between the
  payment's write and the enrollment's is finished by the next delivery or reconciliation.
- Admins get an in-app notification when a dispute opens, needs evidence or is lost.
"""
from collections import namedtuple

from .. import audit
from ..accounts import notifications
from ..learning import enrollments
from . import RAZORPAY, ledger, orders, receipts, states

Recorded = namedtuple("Recorded", "outcome row order")
TELL_ADMINS = {"dispute.open": "A payment is disputed", "dispute.action_required": "A dispute needs evidence",
               "dispute.lost": "A dispute was lost"}


def record(db, facts, source, entity=None, order=None):
    """Apply what ``facts`` say (``entity``: the payload they were read from, kept as the row's
    last snapshot) to our row of that payment; ``order`` is the order the caller already holds
    (Checkout's), else the one the payment names."""
    order = order or orders.find(db, facts.order_id)
    if order is None:
        return Recorded("unknown_order", None, None)  # another integration on the same account
    problem = orders.check(order, facts)
    if problem:
        if orders.note_mismatch(db, order, facts):
            audit.record(db, source.actor, "payment.mismatch", "order", order["_id"], orderId=order["orderId"],
                         providerPaymentId=facts.payment_id, via=source.via, **problem)
        return Recorded("mismatch", None, order)
    before, after, events = ledger.apply(db, order, facts, source.via, entity)
    settle(db, after, events, source)
    return Recorded(_outcome(after, events), after, order)


def settle(db, row, events, source):
    """Act on the ``events`` of one change of ``row`` (none: a replay, which only aligns access)."""
    for event in events:
        _audit(db, row, event, source)
        if event["event"] in TELL_ADMINS:
            _tell_admins(db, TELL_ADMINS[event["event"]], row, event)
    captured = any(event["event"] == "captured" for event in events)
    if captured and row["provider"] == RAZORPAY:
        orders.paid(db, row["orderId"])
        receipts.send(db, row, source.terms)
    align(db, row, source, captured)


def align(db, row, source, captured=False):
    """Bring the enrollment of ``row`` in line with it; ``captured``: the capture is this change."""
    enrollment = row and db.enrollments.find_one({"_id": row["enrollmentId"]})
    if not enrollment:
        return
    eid, actor = enrollment["_id"], source.actor
    if states.standing(row):
        if enrollment["status"] in ("pending", "refunded"):
            enrollments.activate(db, eid, row["_id"], actor)
        elif enrollment["status"] == "active" and enrollment["paymentId"] != row["_id"] and captured:
            if states.standing(db.payments.find_one({"_id": enrollment["paymentId"]})):
                flag_duplicate(db, row, source)
            else:
                enrollments.rest_on(db, eid, enrollment["paymentId"], row["_id"], actor)
        return
    if not row.get("capturedAt"):
        return
    if enrollment["status"] == "pending" and captured:  # captured and refunded before we heard of either
        enrollment = enrollments.activate(db, eid, row["_id"], actor)
    if enrollment["status"] == "active" and enrollment["paymentId"] == row["_id"]:
        others = [p for p in ledger.standing(db, eid) if p["_id"] != row["_id"]]
        if others:
            enrollments.rest_on(db, eid, row["_id"], others[0]["_id"], actor)
        else:
            enrollments.refund(db, eid, row["_id"], actor)


def flag_duplicate(db, row, source):
    """Mark a payment made for an enrollment that already rests on another one, once."""
    if ledger.note(db, row, "duplicate", source.via, once="duplicate", duplicate=True):
        audit.record(db, source.actor, "payment.duplicate", "payment", row["_id"], **_names(row), via=source.via)
        _tell_admins(db, "A second payment for one enrollment", row, {})


def _names(row):
    return {"orderId": row["orderId"], "providerPaymentId": row["providerPaymentId"], "amount": row["amount"],
            "currency": row["currency"], "enrollmentId": row["enrollmentId"]}


def _audit(db, row, event, source):
    name = event["event"]
    if name == "refund.processed":
        action = "payment.auto_refunded" if not row.get("capturedAt") else \
            "payment.refunded" if row["status"] == "refunded" else "payment.partially_refunded"
    else:
        action = "payment.disputed" if name == "dispute.open" else "payment." + name.replace(".", "_")
    details = {k: v for k, v in event.items() if k not in ("at", "event", "status", "via")}
    if "amount" in details:  # the refund's, the dispute's: the payment's own is ``amount``
        details[name.split(".")[0] + "Amount"] = details.pop("amount")
    audit.record(db, source.actor, action, "payment", row["_id"], **_names(row), **details, status=row["status"],
                 via=source.via)


def _tell_admins(db, title, row, event):
    what = f"{row['providerPaymentId']} of order {row['orderId']}: {row['amount']} {row['currency']}"
    if event.get("disputeId"):
        what += f", dispute {event['disputeId']}"
    for admin in db.users.find({"role": "admin", "disabled": {"$ne": True}}, {"_id": 1}):
        notifications.add(db, admin["_id"], "payment.attention", title, what)


def _outcome(row, events):
    if not events:
        return "unchanged"
    last = events[-1]["event"]
    return row["status"] if last in ("authorized", "captured", "failed", "refund.processed") else \
        last.replace(".", "_")
