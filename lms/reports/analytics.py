"""What happened between two instants: totals and a per-day series, for staff.

The figures come from the day counters of ``stats`` (one small document per UTC day, kept up to
date as events happen), so a report reads at most 367 documents whatever the size of the
collections; ``stats`` says where each event is counted and how the counters are repaired
(``python lms.py rebuild-stats``). ``bench/admin.py`` measures it.

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
  to and including today. At most ``MAX_DAYS`` days. The series has an entry for every day, zeros included.
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
from . import check_range, stats

MAX_DAYS = 366
DEFAULT_DAYS = 30
TOP = 10
DAY = timedelta(days=1)
NO_MONEY = {"captured": 0, "refunded": 0, "disputesLost": 0, "payments": 0, "refunds": 0, "disputes": 0}

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


def _days(start, end):
    first = start.astimezone(timezone.utc).date()
    last = (end - timedelta(microseconds=1)).astimezone(timezone.utc).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _tally(cell, row):
    amount, count = stats.KINDS[row["_id"]["kind"]]
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


def _counts(counter, statuses):
    """Every status (zeros too) and the total."""
    return {**dict.fromkeys(statuses, 0), **counter, "total": sum(counter.values())}


def _moved(cells):
    """The currencies some money moved in (a count, not an amount: a refund can cancel a capture)."""
    return sorted(c for c, cell in cells.items() if any(cell.get(k, 0) for k in ("payments", "refunds", "disputes", "n")))


def _top_courses(db, per_course):
    ranked = sorted(((cid, cell.get("enrollments", 0)) for cid, cell in per_course.items()
                     if cell.get("enrollments", 0) > 0), key=lambda kv: (-kv[1], kv[0]))[:TOP]
    titles = {c["_id"]: c for c in db.courses.find({"_id": {"$in": [cid for cid, _ in ranked]}},
                                                   {"title": 1, "slug": 1})}
    top = []
    for cid, n in ranked:
        money = per_course[cid].get("money", {})
        top.append({"course": titles.get(cid, {"_id": cid, "title": None, "slug": None}), "enrollments": n,
                    "revenue": [{"currency": c, "net": money[c].get("net", 0)} for c in _moved(money)]})
    return top


def report(db, start=None, end=None):
    """The ``ANALYTICS`` of ``[start, end)``, read from the day counters (``stats``)."""
    start, end = window(start, end)
    per_day = stats.read(db, start, end)
    total = {}
    for doc in per_day.values():
        stats.add(total, doc)
    currencies = _moved(total.get("money", {}))
    simulated = total.get("simulated", {})
    days = [{"date": day,
             "enrollments": _counts(doc.get("enrollments", {}), enrollments.STATUSES),
             "completions": doc.get("completions", 0),
             "certificates": _counts(doc.get("certificates", {}), certificates.STATUSES),
             "revenue": _money_rows(doc.get("money", {}), currencies)}
            for day, doc in ((day, per_day.get(day, {})) for day in _days(start, end))]
    return ANALYTICS.dump({"from": start, "to": end,
            "totals": {"enrollments": _counts(total.get("enrollments", {}), enrollments.STATUSES),
                       "completions": total.get("completions", 0),
                       "certificates": _counts(total.get("certificates", {}), certificates.STATUSES),
                       "revenue": _money_rows(total.get("money", {}), currencies, counts=True),
                       "simulated": [{"currency": c, "amount": simulated[c].get("amount", 0),
                                      "payments": simulated[c]["payments"]}
                                     for c in sorted(simulated) if simulated[c].get("payments")],
                       "freeEnrollments": total.get("free", 0)},
            "days": days,
            "topCourses": _top_courses(db, total.get("courses", {}))})
