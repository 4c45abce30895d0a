"""The admins' view of money: every payment, filtered, as a page or a CSV, and one payment whole.

Decisions:
- A row is one payment (one Razorpay payment, or a free or simulated enrollment's record),
  newest first by default, naming its student and course. Filters: ``status``, ``provider``,
  ``method``, ``userId``, ``courseId``, ``from``/``to`` on when we first heard of it, and
  ``flagged`` (duplicates and open disputes: what needs a person).
- The CSV export has every matching row, streamed like the other exports, and is audited.
- One payment answers with its refunds, disputes and history, its enrollment and its order.
- The list carries ``rejectedSignatures``: webhook deliveries and Checkout confirmations whose
  signature did not match, today and over the last 7 days (``lms.payments.rejected``).
"""
from pymongo import ASCENDING as ASC, DESCENDING as DESC

from ..pagination import paginate
from ..errors import NotFound
from ..learning import enrollments
from ..payments import PAYMENT, PAYMENT_DETAIL, rejected
from ..schema import Integer, OneOf, Shape, Text, Timestamp
from . import between
from .exports import named_export

SORTS = {"newest": [("createdAt", DESC), ("_id", DESC)], "oldest": [("createdAt", ASC), ("_id", ASC)]}
COLUMNS = ("id", "createdAt", "status", "provider", "method", "amount", "currency", "amountRefunded",
           "amountDisputed", "orderId", "providerPaymentId", "userId", "userName", "userEmail", "courseId",
           "courseTitle", "capturedAt", "refundedAt", "duplicate", "disputed")
FLAGGED = {"$or": [{"duplicate": True}, {"disputes.status": {"$in": ["open", "under_review", "action_required"]}}]}

PAYER = Shape("Payer", {"id": Text(), "name": Text(nullable=True), "email": Text(nullable=True)},
              description="The student who paid (name and e-mail are null once the account is gone)")
PAYMENT_ROW = PAYMENT.extend("PaymentRow", {
    "user": PAYER(get=lambda row, context: context["user"]),
    "course": enrollments.COURSE_REF(get=lambda row, context: context["course"])},
    description="A payment with its student and course named")
ORDER = Shape("Order", {
    "id": Text("orderId", description="Razorpay's order id"), "amount": Integer(), "currency": Text(),
    "status": OneOf(("open", "paid")), "createdAt": Timestamp(), "expiresAt": Timestamp(nullable=True),
    "paidAt": Timestamp(nullable=True)}, description="The Razorpay order a payment was made on")
REJECTED_COUNT = Shape("RejectedCount", {"today": Integer(), "lastDays": Integer(description="The last 7 UTC days"),
                                         "lastAt": Timestamp(nullable=True)})
REJECTED = Shape("RejectedSignatures", {kind: REJECTED_COUNT() for kind in rejected.KINDS},
                 description="Webhook deliveries and Checkout confirmations whose signature did not match")


def _query(status=None, provider=None, method=None, userId=None, courseId=None, flagged=None, start=None,
           end=None):
    query = {k: v for k, v in (("status", status), ("provider", provider), ("method", method),
                               ("userId", userId), ("courseId", courseId)) if v}
    return {**query, **(FLAGGED if flagged else {}), **between("createdAt", start, end)}


def _named(db, batch):
    """The rows of ``batch`` with their students and courses (two lookups for the batch)."""
    people = {u["_id"]: u for u in db.users.find({"_id": {"$in": list({p["userId"] for p in batch})}},
                                                  {"name": 1, "email": 1})}
    titles = {c["_id"]: c for c in db.courses.find({"_id": {"$in": list({p["courseId"] for p in batch})}},
                                                    {"title": 1, "slug": 1})}
    return [PAYMENT_ROW.dump(p, user={"id": p["userId"], **{k: people.get(p["userId"], {}).get(k)
                                                             for k in ("name", "email")}},
                             course=titles.get(p["courseId"], {"_id": p["courseId"], "title": None, "slug": None}))
            for p in batch]


def payment_list(db, *, sort="newest", page=1, limit=20, cursor=None, **filters):
    found = paginate(db.payments, _query(**filters), SORTS[sort], page, limit, dict, cursor=cursor)
    return {**found, "items": _named(db, found["items"]), "rejectedSignatures": REJECTED.dump(rejected.totals(db))}


def payments_csv(db, actor, *, sort="newest", **filters):
    return named_export(db, actor, "payments", db.payments.find(_query(**filters)).sort(SORTS[sort]), filters,
                        _named, COLUMNS, sort=sort)


def one(db, payment_id):
    """(the payment with its history, its enrollment, its order or None)."""
    row = db.payments.find_one({"_id": payment_id})
    if row is None:
        raise NotFound("Payment not found")
    order = row.get("orderId") and db.orders.find_one({"orderId": row["orderId"]})
    return PAYMENT_DETAIL.dump(row), enrollments.public(db.enrollments.find_one({"_id": row["enrollmentId"]})), \
        ORDER.dump(order) if order else None
