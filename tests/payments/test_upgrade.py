"""A database written when payments were kept one row per order still serves: at start-up each
old row becomes an order and, where it was paid or tried, the row of that payment; access,
revenue and Checkout carry on, and starting again converts nothing twice."""
from datetime import timedelta

import pymongo
import pytest
from pymongo import ASCENDING as ASC, IndexModel

from lms.db import new_id, now
from lms.payments import upgrade
from lms.runtime import Runtime
from lms.web.app import create_app
from support.app import browser
from support.factories import create_course, create_user, sign_in
from support.payments import ENROLL, deliver, lesson_status, revenue

EARLIER = now() - timedelta(minutes=10)


def legacy_row(user, course, enrollment_id, status, *, refunded=0, attempt=None):
    """A payments row as the per-order ledger wrote it."""
    paid = status in ("captured", "refunded")
    history = [{"status": "created", "at": EARLIER}]
    if attempt:
        history.append({"status": "failed", "at": EARLIER, "via": "webhook:payment.failed", "paymentId": attempt})
    if paid:
        history.append({"status": "captured", "at": EARLIER, "via": "webhook:payment.captured", "paymentId": "x"})
    if refunded:
        history.append({"status": "refunded" if status == "refunded" else "partially_refunded", "at": EARLIER})
    return {"_id": new_id(), "provider": "razorpay", "orderId": f"order_Legacy{new_id()[-8:]}",
            "providerPaymentId": f"pay_Legacy{new_id()[-8:]}" if paid else None, "userId": user["_id"],
            "courseId": course["_id"], "enrollmentId": enrollment_id, "amount": course["price"], "currency": "INR",
            "amountRefunded": refunded, "status": status, "rawResponse": {"method": "card"} if paid else None,
            "history": history, "createdAt": EARLIER, "updatedAt": EARLIER, "capturedAt": EARLIER if paid else None,
            "failedAt": EARLIER if attempt else None, "refundedAt": EARLIER if status == "refunded" else None,
            "nextCheckAt": None if paid else now() + timedelta(minutes=5), "checks": 2,
            "lastError": {"reason": "incorrect_pin"} if attempt else None}


@pytest.fixture
def legacy(make_settings, razorpay_double):
    """A database as the per-order ledger left it: its indexes, and a paid, a refunded, a partly
    refunded, an unpaid, a failed and a simulated enrollment."""
    settings = make_settings(**razorpay_double.env)
    client = pymongo.MongoClient(settings.mongodb_uri, tz_aware=True)
    db = client.get_default_database()
    db.payments.create_indexes([IndexModel([("orderId", ASC)], unique=True,
                                           partialFilterExpression={"orderId": {"$type": "string"}}),
                                IndexModel([("providerPaymentId", ASC)])])
    course = create_course(db, price=49900)
    people, rows = {}, {}
    for name, status, enrollment_status, extra in (
            ("paid", "captured", "active", {}), ("refunded", "refunded", "refunded", {"refunded": 49900}),
            ("partial", "captured", "active", {"refunded": 9900}), ("unpaid", "created", "pending", {}),
            ("failed", "failed", "pending", {"attempt": "pay_LegacyFailed01"})):
        user = people[name] = create_user(db)
        enrollment_id = new_id()
        rows[name] = legacy_row(user, course, enrollment_id, status, **extra)
        db.payments.insert_one(rows[name])
        db.enrollments.insert_one({"_id": enrollment_id, "userId": user["_id"], "courseId": course["_id"],
                                   "status": enrollment_status, "paymentId": rows[name]["_id"], "progress": 0,
                                   "completedLessons": 0, "totalLessons": 2, "enrolledAt": EARLIER,
                                   "activatedAt": EARLIER if enrollment_status != "pending" else None,
                                   "completedAt": None, "updatedAt": EARLIER})
    simulated = {**legacy_row(people["paid"], course, new_id(), "captured"), "provider": "simulated",
                 "orderId": None, "providerPaymentId": None}
    db.payments.insert_one(simulated)
    yield settings, db, course, people, rows
    client.close()


def test_old_rows_become_orders_and_payments_and_the_service_carries_on(legacy, razorpay_double):
    settings, raw, course, people, rows = legacy
    runtime = Runtime.open(settings)
    try:
        db, app = runtime.db, create_app(runtime)
        indexes = {tuple(k for k, _ in spec["key"]): spec.get("unique", False)
                   for spec in db.payments.index_information().values()}
        assert indexes[("providerPaymentId",)] is True and ("orderId",) not in indexes
        by_id = {p["_id"]: p for p in db.payments.find()}
        assert by_id[rows["paid"]["_id"]]["status"] == "captured"
        assert by_id[rows["refunded"]["_id"]]["status"] == "refunded"
        assert by_id[rows["partial"]["_id"]]["status"] == "partially_refunded"
        failed = by_id[rows["failed"]["_id"]]
        assert (failed["status"], failed["providerPaymentId"]) == ("failed", "pay_LegacyFailed01")
        assert rows["unpaid"]["_id"] not in by_id  # an order never tried was no payment
        unpaid_enrollment = db.enrollments.find_one({"userId": people["unpaid"]["_id"]})
        assert (unpaid_enrollment["status"], unpaid_enrollment["paymentId"]) == ("pending", None)
        assert {o["orderId"]: (o["status"], o["current"]) for o in db.orders.find()} == {
            rows["paid"]["orderId"]: ("paid", False), rows["refunded"]["orderId"]: ("paid", False),
            rows["partial"]["orderId"]: ("paid", False), rows["unpaid"]["orderId"]: ("open", True),
            rows["failed"]["orderId"]: ("open", True)}
        assert db.orders.find_one({"orderId": rows["unpaid"]["orderId"]})["checks"] == 2  # its schedule goes on
        admin = sign_in(app, create_user(db, "admin"))
        assert revenue(admin) == 3 * 49900 - 49900 - 9900  # as the old rows said; the simulated one apart
        assert admin.get(f"/api/admin/payments/{rows['paid']['_id']}").json["payment"]["method"] == "card"

        # The paid student keeps access; a refund Razorpay tells about now ends it.
        paid_student = sign_in(app, people["paid"])
        assert lesson_status(paid_student, course) == 200
        old = {"id": rows["paid"]["providerPaymentId"], "entity": "payment", "amount": 49900, "currency": "INR",
               "status": "refunded", "order_id": rows["paid"]["orderId"], "captured": True, "method": "card",
               "amount_refunded": 49900, "created_at": int(EARLIER.timestamp())}
        refund = {"id": "rfnd_AfterUpgrade01", "entity": "refund", "amount": 49900, "currency": "INR",
                  "payment_id": old["id"], "status": "processed", "created_at": int(now().timestamp()), "notes": []}
        assert deliver(browser(app), razorpay_double.webhook("refund.processed", old, refund)) == "refunded"
        assert lesson_status(paid_student, course) == 403

        # The unpaid student gets the same order back from Checkout and can pay it.
        unpaid = sign_in(app, people["unpaid"])
        razorpay_double.orders[rows["unpaid"]["orderId"]] = {
            "id": rows["unpaid"]["orderId"], "entity": "order", "amount": 49900, "amount_paid": 0, "amount_due": 49900,
            "currency": "INR", "receipt": rows["unpaid"]["_id"], "status": "created", "attempts": 0, "notes": [],
            "created_at": int(EARLIER.timestamp())}
        order = unpaid.post_json(ENROLL, {"courseId": course["_id"], "paymentMode": "razorpay"}).json["order"]
        assert order["id"] == rows["unpaid"]["orderId"]
        payment = razorpay_double.pay(order["id"])
        assert deliver(browser(app), razorpay_double.webhook("payment.captured", payment)) == "captured"
        assert lesson_status(unpaid, course) == 200
    finally:
        runtime.close()
    again = Runtime.open(settings)  # a restart (or a second replica) converts nothing twice
    try:
        assert again.db.payments.count_documents({"version": {"$exists": False}}) == 0
        assert again.db.orders.count_documents({}) == 5
        assert upgrade.convert(again.db) == 0
    finally:
        again.close()
    assert raw.payments.count_documents({"provider": "simulated", "movements.kind": "capture"}) == 1
