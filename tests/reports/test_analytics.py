"""Analytics: every figure checked against the same numbers counted in plain Python."""
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import pytest

from lms.certificates.records import STATUSES as CERT_STATUSES
from lms.learning.enrollments import STATUSES as ENROLLMENT_STATUSES
from lms.reports import stats
from support import factories
from support.factories import complete_course, create_course, enroll

ANALYTICS = "/api/admin/analytics"
MS = timedelta(milliseconds=1)


@pytest.fixture
def today():
    """UTC midnight today, away from midnight so that the real routes' 'now' is on the same day."""
    while (datetime.now(timezone.utc) + timedelta(seconds=20)).date() != datetime.now(timezone.utc).date():
        time.sleep(1)
    return factories.midnight()


def expected(db, start, end):
    """The report computed in Python from every stored document."""
    inside = lambda t: t is not None and start <= t < end
    day = lambda t: t.astimezone(timezone.utc).date().isoformat()
    first = start.date()
    days = [(first + timedelta(days=n)).isoformat() for n in range(((end - MS).date() - first).days + 1)]
    enrolled, certified = defaultdict(Counter), defaultdict(Counter)
    completed, money = Counter(), defaultdict(lambda: defaultdict(Counter))
    by_course, course_net = Counter(), defaultdict(Counter)
    for e in db.enrollments.find():
        if inside(e["enrolledAt"]):
            enrolled[day(e["enrolledAt"])][e["status"]] += 1
            by_course[e["courseId"]] += 1
        if inside(e.get("completedAt")):
            completed[day(e["completedAt"])] += 1
    for c in db.certificates.find():
        if inside(c["createdAt"]):
            certified[day(c["createdAt"])][c["status"]] += 1
    names = {"capture": ("captured", "payments"), "refund": ("refunded", "refunds"),
             "dispute_lost": ("disputesLost", "disputes")}
    simulated, free = defaultdict(Counter), 0
    for p in db.payments.find():
        free += p["provider"] == "free" and inside(p["createdAt"])
        for m in p["movements"]:
            if not inside(m["at"]):
                continue
            if p["provider"] == "simulated":
                simulated[p["currency"]].update(amount=m["amount"], payments=1)
                continue
            amount, count = names[m["kind"]]
            money[day(m["at"])][p["currency"]].update({amount: m["amount"], count: 1})
            course_net[p["courseId"]][p["currency"]] += m["amount"] * (1 if m["kind"] == "capture" else -1)
    currencies = sorted({c for per_day in money.values() for c in per_day})

    def statuses(counter, names):
        return {**{s: counter[s] for s in names}, "total": sum(counter.values())}

    def revenue(per_currency, counts):
        rows = []
        for c in currencies:
            cell = per_currency.get(c, Counter())
            row = {"currency": c, "captured": cell["captured"], "refunded": cell["refunded"],
                   "disputesLost": cell["disputesLost"],
                   "net": cell["captured"] - cell["refunded"] - cell["disputesLost"]}
            rows.append({**row, "payments": cell["payments"], "refunds": cell["refunds"],
                         "disputes": cell["disputes"]} if counts else row)
        return rows

    all_money = defaultdict(Counter)
    for per_day in money.values():
        for c, cell in per_day.items():
            all_money[c].update(cell)
    titles = {c["_id"]: c for c in db.courses.find()}
    top = sorted(by_course.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    return {
        "from": start.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "to": end.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "totals": {"enrollments": statuses(sum(enrolled.values(), Counter()), ENROLLMENT_STATUSES),
                   "completions": sum(completed.values()),
                   "certificates": statuses(sum(certified.values(), Counter()), CERT_STATUSES),
                   "revenue": revenue(all_money, True),
                   "simulated": [{"currency": c, **simulated[c]} for c in sorted(simulated)],
                   "freeEnrollments": free},
        "days": [{"date": d, "enrollments": statuses(enrolled[d], ENROLLMENT_STATUSES),
                  "completions": completed[d], "certificates": statuses(certified[d], CERT_STATUSES),
                  "revenue": revenue(money[d], False)} for d in days],
        "topCourses": [{"course": {"id": cid, "title": titles[cid]["title"], "slug": titles[cid]["slug"]},
                        "enrollments": n,
                        "revenue": [{"currency": c, "net": v} for c, v in sorted(course_net[cid].items())]}
                       for cid, n in top]}


@pytest.fixture
def mix(db, signed_in, today):
    """A week of a platform's life: real enrollments, payments and a completed course through the
    routes today, and inserted history on the days before (and just outside) the range."""
    rupee, rupee_big = create_course(db, title="Python", price=49900), create_course(db, title="ML", price=99900)
    dollar = create_course(db, title="Cloud", price=1999, currency="USD")
    free = create_course(db, title="Git", price=0)
    asha, ravi, meena = (signed_in("student", name=n) for n in ("Asha", "Ravi", "Meena"))
    for client, course in ((asha, rupee), (asha, free), (ravi, dollar), (meena, rupee_big), (meena, free)):
        enroll(client, course)
    complete_course(asha, free)  # Asha completes Git: a completion and a pending certificate

    day = lambda n, hour=10: today + timedelta(days=n, hours=hour)
    people = [factories.student(n) for n in range(12)]
    db.users.insert_many(people)
    uid = lambda n: people[n]["_id"]
    e, p, c = [], [], []

    def bought(n, course, status, at, *, paid="captured", refunded=None, completed=None):
        enrollment = factories.enrollment(uid(n), course["_id"], status=status, at=at, completed=completed)
        if paid:
            pay = factories.payment(uid(n), course["_id"], enrollment["_id"], amount=course["price"],
                               currency=course["currency"], status=paid, at=at, refunded=refunded)
            enrollment["paymentId"] = pay["_id"]
            p.append(pay)
        e.append(enrollment)

    bought(0, rupee, "active", today - 6 * timedelta(days=1), completed=day(-4))  # exactly at `from`
    bought(1, rupee_big, "refunded", day(-5), paid="refunded", refunded=day(-1))
    bought(2, dollar, "active", day(-3), paid="refunded", refunded=day(2))  # refund after the range
    bought(3, rupee, "pending", day(-2), paid="created")
    bought(4, dollar, "cancelled", day(-3), paid="failed")
    bought(5, rupee, "refunded", day(-10), paid="refunded", refunded=day(-2))  # captured before the range
    bought(6, rupee_big, "active", day(-7, 0) - MS, completed=day(-6))  # enrolled just before `from`
    bought(7, rupee, "active", day(1, 0))  # the first instant after the range
    bought(8, dollar, "active", day(-1, 23) + timedelta(minutes=59, seconds=59, milliseconds=999))
    bought(9, free, "active", day(-4), paid=None, completed=day(-4, 18))
    db.enrollments.insert_many(e)
    db.payments.insert_many(p)
    for n, (status, at) in enumerate([("rendering", day(-1)), ("active", day(-4)), ("revoked", day(-3)),
                                      ("failed", day(-2)), ("pending", day(-8)), ("active", day(-6, 0))]):
        c.append(factories.certificate(uid(n), free["_id"], status=status, at=at))
    db.certificates.insert_many(c)
    stats.rebuild(db)  # the history was written straight into the database, past the counters
    return {"today": today}


def test_every_figure_matches_an_independent_count(signed_in, db, mix):
    today = mix["today"]
    body = signed_in("admin").get(ANALYTICS, {"from": (today - timedelta(days=6)).date().isoformat(),
                                                   "to": today.date().isoformat()}).json
    start, end = today - timedelta(days=6), today + timedelta(days=1)
    assert body == {"ok": True, **expected(db, start, end)}
    # A few figures by hand, so the test does not only agree with itself:
    totals = body["totals"]
    assert totals["enrollments"] == {"pending": 1, "active": 9, "cancelled": 1, "refunded": 1, "total": 12}
    assert totals["completions"] == 4  # Asha today, #0, #6 (enrolled earlier) and #9
    assert totals["certificates"] == {"pending": 1, "rendering": 1, "active": 2, "revoked": 1, "failed": 1,
                                      "total": 6}
    # Revenue is Razorpay's: #0 and #1 captured, #1 and #5 refunded in the range; #2 and #8 in dollars.
    assert totals["revenue"] == [
        {"currency": "INR", "captured": 49900 + 99900, "refunded": 99900 + 49900, "disputesLost": 0, "net": 0,
         "payments": 2, "refunds": 2, "disputes": 0},
        {"currency": "USD", "captured": 1999 * 2, "refunded": 0, "disputesLost": 0, "net": 1999 * 2, "payments": 2,
         "refunds": 0, "disputes": 0}]
    # The enrollments made today through the routes paid with simulated payments: shown apart.
    assert totals["simulated"] == [{"currency": "INR", "amount": 49900 + 99900, "payments": 2},
                                   {"currency": "USD", "amount": 1999, "payments": 1}]
    assert totals["freeEnrollments"] == 2  # Asha's and Meena's Git
    assert len(body["days"]) == 7 and body["days"][-1]["date"] == today.date().isoformat()
    assert body["days"][0]["enrollments"]["active"] == 1  # the enrollment exactly at `from`
    assert body["days"][5]["revenue"][0] == {"currency": "INR", "captured": 0, "refunded": 99900, "disputesLost": 0,
                                             "net": -99900}
    # Cloud 4; Python and Git 3 each (the older course id first); ML 2
    assert [(t["course"]["title"], t["enrollments"]) for t in body["topCourses"]] == [
        ("Cloud", 4), ("Python", 3), ("Git", 3), ("ML", 2)]


def test_a_range_with_no_data_is_all_zeros(signed_in):
    body = signed_in("admin").get(ANALYTICS, {"from": "2024-02-27", "to": "2024-03-01"}).json
    assert (body["from"], body["to"]) == ("2024-02-27T00:00:00.000Z", "2024-03-02T00:00:00.000Z")
    assert [d["date"] for d in body["days"]] == ["2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01"]
    assert body["days"][0] == {"date": "2024-02-27", "completions": 0, "revenue": [],
                               "enrollments": {**dict.fromkeys(ENROLLMENT_STATUSES, 0), "total": 0},
                               "certificates": {**dict.fromkeys(CERT_STATUSES, 0), "total": 0}}
    assert body["totals"]["revenue"] == body["totals"]["simulated"] == [] and body["topCourses"] == []
    assert body["totals"]["enrollments"]["total"] == body["totals"]["completions"] == 0


def test_the_default_range_is_the_30_days_up_to_today(signed_in, db, mix):
    body = signed_in("admin").get(ANALYTICS).json
    today = mix["today"]
    assert [d["date"] for d in body["days"]][-1] == today.date().isoformat() and len(body["days"]) == 30
    assert body == {"ok": True, **expected(db, today - timedelta(days=29), today + timedelta(days=1))}


def test_times_with_a_zone_are_read_in_utc(signed_in, db):
    course = create_course(db)
    at = datetime(2025, 6, 1, 20, 0, tzinfo=timezone.utc)  # 01:30 on 2 June in India
    db.enrollments.insert_one(factories.enrollment(factories.student(1)["_id"], course["_id"], at=at))
    db.enrollments.insert_one(factories.enrollment(factories.student(2)["_id"], course["_id"],
                                                   at=at - timedelta(hours=2)))  # the same UTC day, before `from`
    stats.rebuild(db)
    admin = signed_in("admin")
    body = admin.get(ANALYTICS, {"from": "2025-06-02T00:00:00+05:30", "to": "2025-06-02T06:00:00+05:30"}).json
    assert (body["from"], body["to"]) == ("2025-06-01T18:30:00.000Z", "2025-06-02T00:30:00.000Z")
    assert [(d["date"], d["enrollments"]["total"]) for d in body["days"]] == [("2025-06-01", 1), ("2025-06-02", 0)]


@pytest.mark.parametrize("query, field", [
    ("from=2025-02-30", "from"), ("from=01/02/2025", "from"), ("to=2025-01-01T10:00", "to"),
    ("from=2025-01-10&to=2025-01-09", "to"), ("from=2024-01-01&to=2025-01-01", "to"),  # 367 days
    ("from=2025-01-01T00:00:00Z&to=2025-01-01T00:00:00Z", "to"), ("days=7", "days"),
    ("from[$gt]=2025-01-01", "from[$gt]"), ("to=2025-01-01T25:00:00Z", "to"),
])
def test_bad_ranges_are_400_naming_the_parameter(signed_in, query, field):
    response = signed_in("admin").get(f"{ANALYTICS}?{query}", expect_errors=True)
    assert response.status_int == 400 and set(response.json["error"]["fields"]) == {field}


def test_a_full_year_is_allowed(signed_in):
    body = signed_in("admin").get(ANALYTICS, {"from": "2024-01-01", "to": "2024-12-31"}).json
    assert len(body["days"]) == 366
