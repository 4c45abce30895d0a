"""What happened between two instants: totals and a per-day series, for staff.

Everything is counted by aggregation in the database: a ``$match`` on the event's time field,
then ``$group`` by UTC day (``$dateToString`` formats in UTC); no document travels to Python.
With an index on each time field (``enrolledAt``, ``completedAt``, certificates' ``createdAt``,
payments' ``movements.at``) the work follows the number of events in the range, not the size
of the collections (``bench/admin.py`` measures both).

Decisions:
- The time that puts an event on a day: an enrollment its ``enrolledAt`` (counted under its
  status now), a completion the enrollment's ``completedAt``, a certificate its ``createdAt``
  (under its status now), money its movement's time (``lms.payments.states``: a capture when we
  learned of it, a refund when Razorpay made it, a lost dispute when we learned of it). A refund
  subtracts on its own day, so a day (or a range) can have negative net revenue.
- Revenue is Razorpay's money only: captured − refunded (partial refunds included) − lost in
  disputes, kept per currency, never added across currencies. An automatic refund of a payment
  never captured moved no money and counts nowhere. Simulated payments are pretend money: they
  are shown apart (``totals.simulated``), as are free enrollments (``totals.freeEnrollments``).
- The range is ``[from, to)`` in UTC (see ``reports.Instant``); without one, the 30 UTC days up
  to and including today. At most ``MAX_DAYS`` days, so a request cannot ask the database to
  group years of events. The series has an entry for every day, zeros included.
- Top courses: the ``TOP`` courses with the most new enrollments in the range (ties by course
  id), with their net revenue in the range.
"""
from datetime import timedelta, timezone

from ..certificates import records as certificates
from ..db import now
from ..errors import ValidationError
from ..learning import enrollments
from ..payments import RAZORPAY
from ..schema import Integer, ListOf, Shape, Text, Timestamp
from . import check_range

MAX_DAYS = 366
DEFAULT_DAYS = 30
TOP = 10
DAY = timedelta(days=1)
NO_MONEY = {"captured": 0, "refunded": 0, "disputesLost": 0, "payments": 0, "refunds": 0, "disputes": 0}
KINDS = {"capture": ("captured", "payments"), "refund": ("refunded", "refunds"),
         "dispute_lost": ("disputesLost", "disputes")}  # a movement's kind -> its amount and count

def _counts_shape(name, statuses):
    return Shape(name, {**{status: Integer() for status in statuses}, "total": Integer()})


ENROLLMENT_COUNTS = _counts_shape("EnrollmentCounts", enrollments.STATUSES)
CERTIFICATE_COUNTS = _counts_shape("CertificateCounts", certificates.STATUSES)
MONEY = Shape("Money", {"currency": Text(), "captured": Integer(), "refunded": Integer(),
                        "disputesLost": Integer(), "net": Integer(description="captured - refunded - disputesLost")},
              description="Razorpay money in the smallest unit (paise) of one currency")
MONEY_TOTAL = MONEY.extend("MoneyTotal", {"payments": Integer(), "refunds": Integer(), "disputes": Integer()})
SIMULATED = Shape("SimulatedMoney", {"currency": Text(), "amount": Integer(), "payments": Integer()},
                  description="Simulated payments (development): never revenue")
NET = Shape("NetRevenue", {"currency": Text(), "net": Integer()})
ANALYTICS_DAY = Shape("AnalyticsDay", {
    "date": Text(format="date"), "enrollments": ENROLLMENT_COUNTS(), "completions": Integer(),
    "certificates": CERTIFICATE_COUNTS(), "revenue": ListOf(MONEY)})
TOTALS = Shape("AnalyticsTotals", {
    "enrollments": ENROLLMENT_COUNTS(), "completions": Integer(), "certificates": CERTIFICATE_COUNTS(),
    "revenue": ListOf(MONEY_TOTAL), "simulated": ListOf(SIMULATED),
    "freeEnrollments": Integer(description="Enrollments in free courses")})
TOP_COURSE = Shape("TopCourse", {"course": enrollments.COURSE_REF(), "enrollments": Integer(),
                                 "revenue": ListOf(NET)})
ANALYTICS = Shape("Analytics", {
    "from": Timestamp(), "to": Timestamp(), "totals": TOTALS(), "days": ListOf(ANALYTICS_DAY),
    "topCourses": ListOf(TOP_COURSE)}, description="What happened between two instants (UTC days)")


def window(start=None, end=None):
    """The range to report on: the given bounds, by default the 30 UTC days up to today."""
    if end is None:
        end = now().replace(hour=0, minute=0, second=0, microsecond=0) + DAY
    if start is None:
        start = end - DEFAULT_DAYS * DAY
    check_range(start, end)
    if end - start > MAX_DAYS * DAY:
        raise ValidationError({"to": f"the range must be at most {MAX_DAYS} days"})
    return start, end


def _day(field):
    return {"$dateToString": {"format": "%Y-%m-%d", "date": "$" + field}}


def _in(start, end):
    return {"$gte": start, "$lt": end}


def _days(start, end):
    first = start.astimezone(timezone.utc).date()
    last = (end - timedelta(microseconds=1)).astimezone(timezone.utc).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _by_status(db, collection, field, start, end, **facets):
    """{day: {status: n}} of the documents whose ``field`` is in the range, and the results of
    ``facets``: more groupings of the same documents, so the range is read once."""
    [found] = db[collection].aggregate([
        {"$match": {field: _in(start, end)}},
        {"$facet": {"days": [{"$group": {"_id": {"day": _day(field), "status": "$status"}, "n": {"$sum": 1}}}],
                    **facets}}])
    out = {}
    for row in found.pop("days"):
        out.setdefault(row["_id"]["day"], {})[row["_id"]["status"]] = row["n"]
    return out, found


def _completions(db, start, end):
    return {row["_id"]: row["n"] for row in db.enrollments.aggregate([
        {"$match": {"completedAt": _in(start, end)}},
        {"$group": {"_id": _day("completedAt"), "n": {"$sum": 1}}}])}


def _money(db, start, end):
    """Sums of the money movements in the range: Razorpay's per (day, currency, kind) and per
    (course, currency, kind), simulated ones per currency, in one pass."""
    group = lambda key: {"$group": {"_id": key, "amount": {"$sum": "$movements.amount"}, "n": {"$sum": 1}}}
    razorpay = {"$match": {"provider": RAZORPAY}}
    [facets] = db.payments.aggregate([
        {"$match": {"movements.at": _in(start, end), "provider": {"$ne": "free"}}},
        {"$unwind": "$movements"},
        {"$match": {"movements.at": _in(start, end)}},
        {"$facet": {"days": [razorpay, group({"day": _day("movements.at"), "currency": "$currency",
                                              "kind": "$movements.kind"})],
                    "courses": [razorpay, group({"course": "$courseId", "currency": "$currency",
                                                 "kind": "$movements.kind"})],
                    "simulated": [{"$match": {"provider": "simulated", "movements.kind": "capture"}},
                                  group("$currency")]}}])
    return facets


TOP_COURSES = [{"$group": {"_id": "$courseId", "enrollments": {"$sum": 1}}},
               {"$sort": {"enrollments": -1, "_id": 1}}, {"$limit": TOP}]


def _top_courses(db, ranked, per_course):
    ids = [row["_id"] for row in ranked]
    titles = {c["_id"]: c for c in db.courses.find({"_id": {"$in": ids}}, {"title": 1, "slug": 1})}
    net = {}
    for row in per_course:
        key = row["_id"]
        cell = net.setdefault(key["course"], {})
        cell[key["currency"]] = cell.get(key["currency"], 0) + row["amount"] * (1 if key["kind"] == "capture" else -1)
    top = []
    for row in ranked:
        top.append({"course": titles.get(row["_id"], {"_id": row["_id"], "title": None, "slug": None}),
                    "enrollments": row["enrollments"],
                    "revenue": [{"currency": c, "net": v} for c, v in sorted(net.get(row["_id"], {}).items())]})
    return top


def _revenue(per_day):
    """{day: {currency: NO_MONEY-like cell}} from the per-day grouping."""
    out = {}
    for row in per_day:
        key = row["_id"]
        _tally(out.setdefault(key["day"], {}).setdefault(key["currency"], dict(NO_MONEY)), row)
    return out


def _tally(cell, row):
    amount, count = KINDS[row["_id"]["kind"]]
    cell[amount] += row["amount"]
    cell[count] += row["n"]


def revenue_of(db, match):
    """The money (``MONEY`` rows, one per currency) of the Razorpay payments matching ``match``
    over all time, by the rules of the report: captured minus refunded minus lost in disputes."""
    per_currency = {}
    for row in db.payments.aggregate([
            {"$match": {**match, "provider": RAZORPAY}}, {"$unwind": "$movements"},
            {"$group": {"_id": {"currency": "$currency", "kind": "$movements.kind"},
                        "amount": {"$sum": "$movements.amount"}, "n": {"$sum": 1}}}]):
        _tally(per_currency.setdefault(row["_id"]["currency"], dict(NO_MONEY)), row)
    return _money_rows(per_currency, sorted(per_currency))


def _money_rows(per_currency, currencies, counts=False):
    rows = []
    for currency in currencies:
        cell = {**NO_MONEY, **per_currency.get(currency, {})}
        row = {"currency": currency, "captured": cell["captured"], "refunded": cell["refunded"],
               "disputesLost": cell["disputesLost"], "net": cell["captured"] - cell["refunded"] - cell["disputesLost"]}
        if counts:
            row.update(payments=cell["payments"], refunds=cell["refunds"], disputes=cell["disputes"])
        rows.append(row)
    return rows


def _add(counters):
    total = {}
    for counter in counters:
        for key, n in counter.items():
            total[key] = total.get(key, 0) + n
    return total


def _counts(counter, statuses):
    """Every status (zeros too) and the total."""
    return {**dict.fromkeys(statuses, 0), **counter, "total": sum(counter.values())}


def report(db, start=None, end=None):
    start, end = window(start, end)
    enrolled, ranked = _by_status(db, "enrollments", "enrolledAt", start, end, courses=TOP_COURSES)
    certified, _ = _by_status(db, "certificates", "createdAt", start, end)
    completed = _completions(db, start, end)
    money = _money(db, start, end)
    revenue = _revenue(money["days"])
    currencies = sorted({c for cells in revenue.values() for c in cells})
    days = [{"date": day,
             "enrollments": _counts(enrolled.get(day, {}), enrollments.STATUSES),
             "completions": completed.get(day, 0),
             "certificates": _counts(certified.get(day, {}), certificates.STATUSES),
             "revenue": _money_rows(revenue.get(day, {}), currencies)}
            for day in _days(start, end)]
    totals = {c: _add(cells[c] for cells in revenue.values() if c in cells) for c in currencies}
    return ANALYTICS.dump({"from": start, "to": end,
            "totals": {"enrollments": _counts(_add(enrolled.values()), enrollments.STATUSES),
                       "completions": sum(completed.values()),
                       "certificates": _counts(_add(certified.values()), certificates.STATUSES),
                       "revenue": _money_rows(totals, currencies, counts=True),
                       "simulated": [{"currency": row["_id"], "amount": row["amount"], "payments": row["n"]}
                                     for row in sorted(money["simulated"], key=lambda row: row["_id"])],
                       "freeEnrollments": db.payments.count_documents({"provider": "free",
                                                                        "createdAt": _in(start, end)})},
            "days": days,
            "topCourses": _top_courses(db, ranked["courses"], money["courses"])})
