"""Razorpay orders for Checkout, through the real SDK against a loopback double of Razorpay's
API: one current order per enrollment however requests race, handed out again until it expires
or the price changes, no enrollment before an order exists, and Razorpay down, failing or slow
(502, nothing left behind, a retry works)."""
import time
from datetime import timedelta

import pytest

from lms.adapters.razorpay import TIMEOUT
from lms.db import iso, now
from support.app import app_with, browser
from support.factories import checkout, create_course, create_user, sign_in
from support.live import call
from support.payments import ENROLL, VERIFY, WEBHOOK, audited, deliver_all, lesson_status, race, run_captures


def RAZORPAY_MODE(course):
    return {"courseId": course["_id"], "paymentMode": "razorpay"}


# --- orders -----------------------------------------------------------------------------------


def test_a_paid_enrollment_opens_a_razorpay_order_for_checkout(signed_in, db, razorpay_double):
    student, course, order, enrollment = checkout(signed_in, db, price=49900)
    doc = db.orders.find_one()
    assert order == {"id": doc["orderId"], "amount": 49900, "currency": "INR", "keyId": razorpay_double.key_id,
                     "expiresAt": iso(doc["expiresAt"])}
    assert doc["expiresAt"] - doc["createdAt"] == timedelta(minutes=30)  # RAZORPAY_ORDER_TTL's default
    at_razorpay = razorpay_double.orders[order["id"]]
    assert (at_razorpay["amount"], at_razorpay["currency"], at_razorpay["receipt"]) == (49900, "INR", doc["_id"])
    assert at_razorpay["notes"] == {"orderRef": doc["_id"], "userId": student.user["_id"], "courseId": course["_id"]}
    assert (doc["status"], doc["current"], doc["enrollmentId"]) == ("open", True, enrollment["id"])
    assert db.payments.count_documents({}) == 0  # no payment yet: Checkout has not been paid
    assert (enrollment["status"], enrollment["paymentId"]) == ("pending", None)
    assert audited(db, "payment.order_created") == 1 and razorpay_double.calls == [("POST", "/v1/orders")]
    student.get(f"/api/courses/{course['slug']}/lessons/setup", status=403)  # pending grants nothing


def test_enrolling_again_while_pending_returns_the_same_order(signed_in, db, razorpay_double):
    student, course, order, enrollment = checkout(signed_in, db)
    again = student.post_json(ENROLL, {"courseId": course["_id"], "paymentMode": "razorpay"}).json
    assert (again["order"], again["enrollment"]["id"]) == (order, enrollment["id"])
    assert db.orders.count_documents({}) == 1 and len(razorpay_double.calls) == 1


def test_a_paid_course_needs_a_payment_mode_and_nothing_is_left_behind(signed_in, db, razorpay_double):
    student, course = signed_in(), create_course(db)
    response = student.post_json(ENROLL, {"courseId": course["_id"]}, status=400)
    assert response.json["error"]["fields"] == {"paymentMode": "is required for a paid course: razorpay or simulated"}
    assert student.get("/api/enrollments").json["items"] == [] and db.orders.count_documents({}) == 0
    assert razorpay_double.calls == []


def test_an_expired_order_is_replaced_and_the_enrollment_stays_one(signed_in, db, razorpay_double):
    student, course, order, enrollment = checkout(signed_in, db)
    db.orders.update_one({}, {"$set": {"expiresAt": now() - timedelta(seconds=1)}})
    again = student.post_json(ENROLL, {"courseId": course["_id"], "paymentMode": "razorpay"}).json
    assert again["order"]["id"] != order["id"] and again["enrollment"]["id"] == enrollment["id"]
    assert [(o["orderId"], o["current"]) for o in db.orders.find(sort=[("createdAt", 1)])] == [
        (order["id"], False), (again["order"]["id"], True)]
    assert db.enrollments.count_documents({}) == 1


@pytest.mark.parametrize("razorpay_env", [{"RAZORPAY_ORDER_TTL": "120"}])
def test_the_order_ttl_is_configured(signed_in, db):
    checkout(signed_in, db)
    doc = db.orders.find_one()
    assert doc["expiresAt"] - doc["createdAt"] == timedelta(minutes=2)


def test_racing_enrollments_share_one_order_over_a_real_server(live_server, db, razorpay_double):
    server = live_server(**razorpay_double.env)
    auth = server.sign_in(create_user(db))
    course = create_course(db)
    enroll = lambda: call("POST", server.url + ENROLL, {"courseId": course["_id"], "paymentMode": "razorpay"}, auth)
    results = race(*[enroll] * 8)
    assert [status for status, _, _ in results] == [200] * 8, server.stderr
    assert len({body["order"]["id"] for _, body, _ in results}) == 1
    assert db.orders.count_documents({}) == 1 and db.enrollments.count_documents({}) == 1
    assert results[0][1]["order"]["id"] == db.orders.find_one()["orderId"] and audited(db, "payment.order_created") == 1


def test_a_price_change_gets_a_new_order_and_the_old_one_is_honoured_until_it_expires(signed_in, db, client,
                                                                                     runtime, razorpay_double):
    razorpay_double.auto_capture = False
    student, course, old, _ = checkout(signed_in, db, price=49900)
    db.courses.update_one({"_id": course["_id"]}, {"$set": {"price": 39900}})
    new = student.post_json(ENROLL, {"courseId": course["_id"], "paymentMode": "razorpay"}).json["order"]
    assert (new["amount"], db.orders.count_documents({"status": "open"})) == (39900, 2)
    paid_old = razorpay_double.pay(old["id"])  # a Checkout tab still open on the old order, within its time
    assert deliver_all(client, razorpay_double) == ["capture_queued"]
    assert run_captures(runtime) == 1
    first = db.payments.find_one({"orderId": old["id"]})
    assert (first["amount"], first["status"]) == (49900, "captured")
    assert db.enrollments.find_one()["paymentId"] == first["_id"]
    assert lesson_status(student, course) == 200
    # The new order paid too, by mistake: not captured (Razorpay will refund it), flagged for admins.
    paid_new = razorpay_double.pay(new["id"])
    assert deliver_all(client, razorpay_double, "payment.authorized") == ["capture_declined"]
    row = db.payments.find_one({"providerPaymentId": paid_new["id"]})
    assert (row["status"], row["duplicate"], row["captureDeclined"]) == ("authorized", True, "duplicate")
    assert db.enrollments.find_one()["paymentId"] == first["_id"]
    assert paid_old["id"] != paid_new["id"]


def test_an_old_price_is_not_honoured_after_its_order_expired(signed_in, db, client, runtime, razorpay_double):
    razorpay_double.auto_capture = False
    student, course, old, _ = checkout(signed_in, db, price=49900)
    db.courses.update_one({"_id": course["_id"]}, {"$set": {"price": 39900}})
    db.orders.update_one({"orderId": old["id"]}, {"$set": {"expiresAt": now() - timedelta(minutes=1)}})
    razorpay_double.pay(old["id"])
    assert deliver_all(client, razorpay_double) == ["capture_declined"]
    assert run_captures(runtime) == 0 and lesson_status(student, course) == 403
    assert db.payments.find_one()["captureDeclined"] == "order_expired"
    assert db.auditLogs.find_one({"action": "payment.capture_declined"})["details"]["reason"] == "order_expired"
    new = student.post_json(ENROLL, {"courseId": course["_id"], "paymentMode": "razorpay"}).json["order"]
    assert new["amount"] == 39900  # the student pays the current price on a new order


def test_without_razorpay_configured_paid_enrollments_are_503(make_settings, db):
    with app_with(make_settings) as (runtime, app):  # no RAZORPAY_* at all
        student = sign_in(app, create_user(runtime.db))
        course = create_course(runtime.db)
        response = student.post_json(ENROLL, RAZORPAY_MODE(course), status=503)
        assert response.json["error"]["code"] == "razorpay_not_configured"
        assert runtime.db.payments.count_documents({}) == 0
        assert runtime.db.enrollments.count_documents({}) == 0  # nothing left in the student's list
        body = {"razorpay_order_id": "order_x", "razorpay_payment_id": "pay_x",
                "razorpay_signature": "0" * 64}
        assert student.post_json(VERIFY, body, status=503).json["error"]["code"] == "razorpay_not_configured"
        webhook = browser(app).post(WEBHOOK, b"{}", headers={"X-Razorpay-Signature": "0" * 64}, status=503)
        assert webhook.json["error"]["code"] == "razorpay_not_configured"


def test_razorpay_down_is_502_leaves_nothing_behind_and_a_retry_works(signed_in, db, razorpay_double, capfd):
    student, course = signed_in(), create_course(db)
    razorpay_double.stop()  # connection refused
    response = student.post_json(ENROLL, RAZORPAY_MODE(course), status=502)
    assert response.json["error"]["code"] == "razorpay_unavailable"
    assert db.orders.count_documents({}) == 0 and db.enrollments.count_documents({}) == 0
    assert student.get("/api/enrollments").json["items"] == []
    assert "Connection failed" not in capfd.readouterr().out  # the SDK's print would break the JSON log
    razorpay_double.start()
    order = student.post_json(ENROLL, RAZORPAY_MODE(course)).json["order"]
    assert db.orders.find_one()["orderId"] == order["id"]


@pytest.mark.parametrize("trouble, code", [
    (lambda double: double.fail_next(1, status=500), "razorpay_unavailable"),
    (lambda double: double.fail_next(1, status=502), "razorpay_unavailable"),
    (lambda double: double.fail_next(1, status=400), "razorpay_rejected"),
    (lambda double: double.answer_next(502, b"<html><h1>502 Bad Gateway</h1></html>"),
     "razorpay_unavailable"),  # a proxy's page
    (lambda double: double.answer_next(200, {"id": "order_Elsewhere00001", "amount": 100, "currency": "INR"}),
     "razorpay_unavailable"),
])
def test_razorpay_errors_are_502_and_a_retry_works(signed_in, db, razorpay_double, trouble, code, capfd):
    student, course = signed_in(), create_course(db)
    trouble(razorpay_double)
    assert student.post_json(ENROLL, RAZORPAY_MODE(course), status=502).json["error"]["code"] == code
    assert db.orders.count_documents({}) == 0 and db.enrollments.count_documents({}) == 0
    assert audited(db, "payment.order_created") == 0
    assert capfd.readouterr().out == ""  # nothing from the SDK among the JSON log lines
    assert student.post_json(ENROLL, RAZORPAY_MODE(course)).json["order"]["amount"] == 49900


def test_wrong_keys_are_refused_by_razorpay_as_502(make_settings, db, razorpay_double):
    with app_with(make_settings, **{**razorpay_double.env, "RAZORPAY_KEY_SECRET": "not-the-secret"}) as (runtime, app):
        student = sign_in(app, create_user(runtime.db))
        course = create_course(runtime.db)
        response = student.post_json(ENROLL, RAZORPAY_MODE(course), status=502)
        assert response.json["error"]["code"] == "razorpay_rejected"
        assert runtime.db.orders.count_documents({}) == 0 and runtime.db.enrollments.count_documents({}) == 0


def test_a_slow_razorpay_times_out_as_502_and_a_retry_works(signed_in, db, razorpay_double):
    student, course = signed_in(), create_course(db)
    razorpay_double.slow_next(TIMEOUT[1] + 5)
    started = time.monotonic()
    response = student.post_json(ENROLL, RAZORPAY_MODE(course), status=502)
    assert response.json["error"]["code"] == "razorpay_unavailable"
    assert time.monotonic() - started < TIMEOUT[1] + 2
    assert db.orders.count_documents({}) == 0 and db.enrollments.count_documents({}) == 0
    assert student.post_json(ENROLL, RAZORPAY_MODE(course)).json["order"]["id"]
