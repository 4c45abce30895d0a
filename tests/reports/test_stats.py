"""The analytics' day counters: kept as events happen through the real code paths, they say
exactly what counting the data again (``rebuild``) says, replays count once, a database made
before them is counted at start, and ``python lms.py rebuild-stats`` repairs them."""
import json
import random
from datetime import timedelta

import pytest

from lms.certificates import issuing
from lms.db import now
from lms.reports import analytics, stats
from lms.runtime import Runtime
from support.certificates import drain, issue, make_due
from support.factories import PASSWORD, complete_course, create_course, enroll
from support.live import Service
from support.payments import ENROLL, VERIFY, deliver, deliver_all

ADMIN_PAYMENTS, ADMIN_CERTIFICATES = "/api/admin/payments", "/api/admin/certificates"


@pytest.fixture
def runtime(make_settings, razorpay_double):
    """The suite's service, with Razorpay pointing at its loopback double."""
    runtime = Runtime.open(make_settings(**razorpay_double.env))
    yield runtime
    runtime.close()


def counters(db):
    """The stored day counters without their zeros (a count moved away leaves one behind)."""
    def bare(value):
        if not isinstance(value, dict):
            return value
        kept = {k: bare(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (0, {})}
    return {doc["_id"]: bare({k: v for k, v in doc.items() if k != "_id"}) for doc in db.dailyStats.find()}


def ranges():
    t = now()
    today = t.replace(hour=0, minute=0, second=0, microsecond=0)
    return [(None, None), (today, today + timedelta(days=1)), (today - timedelta(days=365), today + timedelta(days=1)),
            (t - timedelta(hours=2), t + timedelta(hours=1)),  # edges inside days: counted from the data
            (today - timedelta(days=3, hours=5), t + timedelta(minutes=1))]


def assert_counted_as_the_data_says(db):
    """The counters and the reports read from them equal those ``rebuild`` makes from the data."""
    asked = ranges()
    kept, reports = counters(db), [analytics.report(db, *r) for r in asked]
    assert kept, "the events were counted as they happened"
    done = stats.rebuild(db)
    assert done["days"] == len(kept)
    assert counters(db) == kept
    assert [analytics.report(db, *r) for r in asked] == reports
    return reports


def razorpay_enrollment(client, student, course, double, rng):
    """A Razorpay checkout paid and confirmed by webhook (some deliveries twice, some by a copy
    under a new event id, some also by Checkout's handler); the payment entity."""
    order = student.post_json(ENROLL, {"courseId": course["_id"], "paymentMode": "razorpay"}).json["order"]
    paid = double.pay(order["id"])
    if rng.random() < 0.3:
        student.post_json(VERIFY, double.checkout_response(paid))
    for delivery in double.deliveries():
        deliver(client, delivery)
        if rng.random() < 0.5:
            deliver(client, delivery)  # the same event again: deduplicated
    if rng.random() < 0.5:
        deliver(client, double.webhook("payment.captured", double.payment(paid["id"])))  # a copy, new id
    return paid


def row_of(db, paid):
    return db.payments.find_one({"providerPaymentId": paid["id"]})


@pytest.mark.parametrize("seed", [3, 6, 7])
def test_a_random_workload_is_counted_as_the_data_says(seed, db, client, signed_in, settings, razorpay_double):
    rng = random.Random(seed)
    admin = signed_in("admin")
    free = create_course(db, title="Git", price=0)
    rupee, dollar = create_course(db, title="Python", price=49900), create_course(db, title="Cloud", price=1999,
                                                                              currency="USD")
    people = [signed_in("student", name=f"Learner {n}") for n in range(10)]
    for student in people:
        if rng.random() < 0.8:
            enroll(student, free)
            if rng.random() < 0.7:
                complete_course(student, free)
        course = rng.choice([rupee, dollar])
        if rng.random() < 0.5:
            enrollment = enroll(student, course)  # simulated
            if rng.random() < 0.4:  # refunded by an admin, then bought again
                admin.post_json(f"{ADMIN_PAYMENTS}/{enrollment['paymentId']}/refund", {"reason": "changed mind"})
                enroll(student, course)
        else:
            paid = razorpay_enrollment(client, student, course, razorpay_double, rng)
            roll = rng.random()
            if roll < 0.25:  # a partial refund, then the rest; every delivery twice
                razorpay_double.refund(paid["id"], course["price"] // 4)
                razorpay_double.refund(paid["id"])
                for delivery in razorpay_double.deliveries():
                    deliver(client, delivery)
                    deliver(client, delivery)
            elif roll < 0.45:  # refunded by an admin through Razorpay
                admin.post_json(f"{ADMIN_PAYMENTS}/{row_of(db, paid)['_id']}/refund", {"reason": "duplicate"})
                deliver_all(client, razorpay_double)
            elif roll < 0.65:  # a chargeback, lost
                dispute = razorpay_double.dispute(paid["id"])
                razorpay_double.resolve(dispute["id"], "lost")
                deliver_all(client, razorpay_double)
                deliver_all(client, razorpay_double)  # nothing left: a no-op
            elif roll < 0.8:
                complete_course(student, course)
    drain(db, settings)  # the worker renders the certificates: pending -> rendering -> active
    certs = list(db.certificates.find())
    for cert in rng.sample(certs, k=min(3, len(certs))):
        admin.post_json(f"{ADMIN_CERTIFICATES}/{cert['certId']}/revoke", {"reason": "plagiarism"})
        admin.post_json(f"{ADMIN_CERTIFICATES}/{cert['certId']}/revoke", {"reason": "again"}, status=409)
        if rng.random() < 0.5:
            admin.post_json(f"{ADMIN_CERTIFICATES}/{cert['certId']}/issue", {"restore": True})
    if certs:
        admin.post_json(f"{ADMIN_CERTIFICATES}/{certs[0]['certId']}/issue", {"restore": True}, expect_errors=True)
    holders = [p for p in people if db.certificates.find_one({"userId": p.user["_id"], "status": {"$ne": "revoked"}})]
    (holders or people)[0].delete_json("/api/user/me", {"password": PASSWORD, "revokeCertificates": True})
    drain(db, settings)

    reports = assert_counted_as_the_data_says(db)
    totals = reports[1]["totals"]  # today: everything above happened today
    # the workload did what it says (each seed is chosen so that it does all of it)
    assert totals["completions"] and totals["certificates"]["revoked"] and totals["certificates"]["active"]
    assert any(row["refunds"] for row in totals["revenue"]) and any(row["disputes"] for row in totals["revenue"])
    assert totals["enrollments"]["total"] == db.enrollments.count_documents({})
    assert totals["certificates"]["total"] == db.certificates.count_documents({})
    assert totals["certificates"]["revoked"] == db.certificates.count_documents({"status": "revoked"})


def test_replayed_deliveries_and_retried_jobs_count_once(db, client, signed_in, settings, razorpay_double):
    student, course = signed_in(), create_course(db, price=0)
    paid_course = create_course(db, price=49900)
    paid = razorpay_enrollment(client, student, paid_course, razorpay_double, random.Random(0))
    razorpay_double.refund(paid["id"], 10000)
    [created, processed] = razorpay_double.deliveries()
    assert [deliver(client, created), deliver(client, processed)] == ["refund_pending", "partially_refunded"]
    enroll(student, course)
    complete_course(student, course)
    before = counters(db)
    today = stats.day_of(now())
    assert before[today]["money"]["INR"] == {"captured": 49900, "payments": 1, "refunded": 10000, "refunds": 1}
    assert before[today]["enrollments"] == {"active": 2} and before[today]["certificates"] == {"pending": 1}

    # Razorpay delivers again, under the same event id and under new ones; Checkout's handler too.
    assert deliver(client, processed) == "duplicate"
    entity = razorpay_double.payment(paid["id"])
    refund = razorpay_double.refunds[processed_refund_id(processed)]
    for event, extra in (("payment.captured", {}), ("refund.processed", {"refund": refund})):
        assert deliver(client, razorpay_double.webhook(event, entity, **extra)) == "unchanged"
    student.post_json(VERIFY, razorpay_double.checkout_response(paid))
    complete_course(student, course)  # the last lesson again
    assert counters(db) == before

    # A render whose worker died: another claims it after the lease; the first one's late
    # answer lands nowhere, and the certificate is counted active once.
    first = issuing.claim(db, "worker-1")
    make_due(db, first["certId"])
    second = issuing.claim(db, "worker-2")
    assert counters(db)[today]["certificates"] == {"rendering": 1}
    issue(db, settings, first, "worker-1")
    assert counters(db)[today]["certificates"] == {"rendering": 1}
    assert issue(db, settings, second, "worker-2") == "active"
    assert counters(db)[today]["certificates"] == {"active": 1}
    assert db.certificates.find_one()["status"] == "active"
    assert_counted_as_the_data_says(db)


def processed_refund_id(delivery):
    return json.loads(delivery[0])["payload"]["refund"]["entity"]["id"]


def test_a_database_made_before_the_counters_is_counted_at_start(db, signed_in, make_settings, razorpay_double):
    student = signed_in()
    free, paid = create_course(db, price=0), create_course(db, price=49900)
    enroll(student, free)
    enroll(student, paid)
    complete_course(student, free)
    kept = counters(db)
    db.dailyStats.drop()  # as an older version left it
    Runtime.open(make_settings(**razorpay_double.env)).close()
    assert counters(db) == kept and kept
    db.dailyStats.update_one({"_id": stats.day_of(now())}, {"$inc": {"completions": 5}})
    Runtime.open(make_settings(**razorpay_double.env)).close()  # counters there: left alone
    assert counters(db) != kept


def test_an_empty_database_starts_with_no_counters(db):
    assert stats.prepare(db) is None and db.dailyStats.count_documents({}) == 0


def test_rebuild_stats_repairs_the_counters(db, signed_in, tmp_path, test_env):
    student = signed_in()
    enroll(student, create_course(db, price=0))
    enroll(student, create_course(db, price=1999, currency="USD"))
    kept = counters(db)
    today = stats.day_of(now())
    db.dailyStats.update_one({"_id": today}, {"$inc": {"enrollments.active": 3, "free": -1}})  # a lost or stray count
    db.dailyStats.insert_one({"_id": "2001-01-01", "completions": 2})  # a day with nothing in the data
    assert counters(db) != kept
    code, out, err = Service(tmp_path / "cli", "rebuild-stats", **test_env).run()
    assert code == 0, err
    assert "days written 1, days removed 1" in out
    assert counters(db) == kept
