"""Razorpay orders, Checkout verification and reconciliation, through the real SDK against a
loopback double of Razorpay's API: one open order per enrollment however requests race,
Razorpay down, failing or slow (502, nothing half-written, a retry works), signatures checked,
and the worker's re-check of orders the webhook never settled."""
import time
from datetime import timedelta

import pytest

from lms.adapters.razorpay import TIMEOUT
from lms.db import now
from lms.payments import ledger, reconcile as reconciliation
from support.app import app_with, browser
from support.doubles.razorpay import sign
from support.factories import checkout, create_course, create_user, sign_in
from support.live import call
from support.payments import ENROLL, VERIFY, WEBHOOK, audited, deliver, race, state

# --- orders -----------------------------------------------------------------------------------


def test_a_paid_enrollment_opens_a_razorpay_order_for_checkout(signed_in, db, razorpay_double):
    student, course, order, enrollment = checkout(signed_in, db, price=49900)
    row = db.payments.find_one()
    assert order == {"id": row["orderId"], "amount": 49900, "currency": "INR",
                     "keyId": razorpay_double.key_id}
    at_razorpay = razorpay_double.orders[order["id"]]
    assert (at_razorpay["amount"], at_razorpay["currency"]) == (49900, "INR")
    assert at_razorpay["receipt"] == row["_id"]
    assert at_razorpay["notes"] == {"paymentId": row["_id"], "userId": student.user["_id"],
                                    "courseId": course["_id"], "enrollmentId": enrollment["id"]}
    assert (row["provider"], row["status"], row["amount"]) == ("razorpay", "created", 49900)
    assert [h["status"] for h in row["history"]] == ["created"] and row["createdAt"] == row["updatedAt"]
    assert (enrollment["status"], enrollment["paymentId"]) == ("pending", row["_id"])
    assert audited(db, "payment.order_created") == 1 and razorpay_double.calls == [("POST", "/v1/orders")]
    student.get(f"/api/courses/{course['slug']}/lessons/setup", status=403)  # pending grants nothing


def test_enrolling_again_while_pending_returns_the_same_order(signed_in, db, razorpay_double):
    student, course, order, enrollment = checkout(signed_in, db)
    again = student.post_json(ENROLL, {"courseId": course["_id"]}).json  # paymentMode defaults to razorpay
    assert (again["order"], again["enrollment"]["id"]) == (order, enrollment["id"])
    assert db.payments.count_documents({}) == 1 and len(razorpay_double.calls) == 1


def test_racing_enrollments_share_one_order_over_a_real_server(live_server, db, razorpay_double):
    server = live_server(**razorpay_double.env)
    auth = server.sign_in(create_user(db))
    course = create_course(db)
    enroll = lambda: call("POST", server.url + ENROLL, {"courseId": course["_id"]}, auth)
    results = race(*[enroll] * 8)
    assert [status for status, _, _ in results] == [200] * 8
    assert len({body["order"]["id"] for _, body, _ in results}) == 1
    row = db.payments.find_one()
    assert db.payments.count_documents({}) == 1 and db.enrollments.find_one()["paymentId"] == row["_id"]
    assert results[0][1]["order"]["id"] == row["orderId"] and audited(db, "payment.order_created") == 1


def test_a_price_change_gets_a_new_order_and_the_old_one_still_pays(signed_in, db, client, razorpay_double):
    student, course, old, _ = checkout(signed_in, db, price=49900)
    db.courses.update_one({"_id": course["_id"]}, {"$set": {"price": 39900}})
    new = student.post_json(ENROLL, {"courseId": course["_id"]}).json["order"]
    assert (new["amount"], db.payments.count_documents({"status": "created"})) == (39900, 2)
    paid_old = razorpay_double.pay(old["id"])  # a Checkout tab still open on the old order
    assert deliver(client, razorpay_double.webhook("payment.captured", paid_old)) == "captured"
    first = db.payments.find_one({"orderId": old["id"]})
    assert db.enrollments.find_one()["paymentId"] == first["_id"]
    # The new order paid too, by mistake, then refunded: the enrollment rests on the first payment.
    paid_new = razorpay_double.pay(new["id"])
    assert deliver(client, razorpay_double.webhook("payment.captured", paid_new)) == "captured"
    refund = razorpay_double.refund(paid_new["id"])
    delivery = razorpay_double.webhook("refund.processed", razorpay_double.payment(paid_new["id"]), refund)
    assert deliver(client, delivery) == "refunded"
    assert db.enrollments.find_one()["status"] == "active" and audited(db, "enrollment.refund") == 0


def test_without_razorpay_configured_paid_enrollments_are_503(make_settings, db):
    with app_with(make_settings) as (runtime, app):  # no RAZORPAY_* at all
        student = sign_in(app, create_user(runtime.db))
        course = create_course(runtime.db)
        response = student.post_json(ENROLL, {"courseId": course["_id"]}, status=503)
        assert response.json["error"]["code"] == "razorpay_not_configured"
        assert runtime.db.payments.count_documents({}) == 0
        assert runtime.db.enrollments.find_one()["status"] == "pending"  # grants nothing
        body = {"razorpay_order_id": "order_x", "razorpay_payment_id": "pay_x",
                "razorpay_signature": "0" * 64}
        assert student.post_json(VERIFY, body, status=503).json["error"]["code"] == "razorpay_not_configured"
        webhook = browser(app).post(WEBHOOK, b"{}", headers={"X-Razorpay-Signature": "0" * 64}, status=503)
        assert webhook.json["error"]["code"] == "razorpay_not_configured"


def test_razorpay_down_is_502_leaves_nothing_behind_and_a_retry_works(signed_in, db, razorpay_double, capfd):
    student, course = signed_in(), create_course(db)
    razorpay_double.stop()  # connection refused
    response = student.post_json(ENROLL, {"courseId": course["_id"]}, status=502)
    assert response.json["error"]["code"] == "razorpay_unavailable"
    assert db.payments.count_documents({}) == 0 and db.enrollments.find_one()["paymentId"] is None
    assert "Connection failed" not in capfd.readouterr().out  # the SDK's print would break the JSON log
    razorpay_double.start()
    order = student.post_json(ENROLL, {"courseId": course["_id"]}).json["order"]
    assert db.payments.find_one()["orderId"] == order["id"]


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
    assert student.post_json(ENROLL, {"courseId": course["_id"]}, status=502).json["error"]["code"] == code
    assert db.payments.count_documents({}) == 0 and audited(db, "payment.order_created") == 0
    assert capfd.readouterr().out == ""  # nothing from the SDK among the JSON log lines
    assert student.post_json(ENROLL, {"courseId": course["_id"]}).json["order"]["amount"] == 49900


def test_wrong_keys_are_refused_by_razorpay_as_502(make_settings, db, razorpay_double):
    with app_with(make_settings, **{**razorpay_double.env, "RAZORPAY_KEY_SECRET": "not-the-secret"}) as (runtime, app):
        student = sign_in(app, create_user(runtime.db))
        course = create_course(runtime.db)
        response = student.post_json(ENROLL, {"courseId": course["_id"]}, status=502)
        assert response.json["error"]["code"] == "razorpay_rejected"
        assert runtime.db.payments.count_documents({}) == 0


def test_a_slow_razorpay_times_out_as_502_and_a_retry_works(signed_in, db, razorpay_double):
    student, course = signed_in(), create_course(db)
    razorpay_double.slow_next(TIMEOUT[1] + 5)
    started = time.monotonic()
    response = student.post_json(ENROLL, {"courseId": course["_id"]}, status=502)
    assert response.json["error"]["code"] == "razorpay_unavailable"
    assert time.monotonic() - started < TIMEOUT[1] + 2
    assert db.payments.count_documents({}) == 0
    assert student.post_json(ENROLL, {"courseId": course["_id"]}).json["order"]["id"]


# --- Checkout verification ---------------------------------------------------------------------

def test_checkout_verification_captures_and_activates_once(signed_in, db, razorpay_double):
    student, course, order, _ = checkout(signed_in, db)
    answer = razorpay_double.checkout_response(razorpay_double.pay(order["id"]))
    body = student.post_json(VERIFY, answer).json
    payment, enrollment = body["payment"], body["enrollment"]
    assert (payment["status"], payment["providerPaymentId"]) == ("captured", answer["razorpay_payment_id"])
    assert (enrollment["status"], enrollment["paymentId"]) == ("active", payment["id"])
    assert body["payment"]["capturedAt"].endswith("Z") and "rawResponse" not in body["payment"]
    student.get(f"/api/courses/{course['slug']}/lessons/setup")
    entry = db.auditLogs.find_one({"action": "payment.captured"})
    assert (entry["actorId"], entry["details"]["via"]) == (student.user["_id"], "checkout")
    before = state(db)
    assert student.post_json(VERIFY, answer).json["enrollment"]["status"] == "active"
    assert state(db) == before and audited(db, "payment.captured") == audited(db, "enrollment.activate") == 1


@pytest.mark.parametrize("tamper", [
    lambda a: {**a, "razorpay_signature": sign(
        "wrong-secret", f"{a['razorpay_order_id']}|{a['razorpay_payment_id']}".encode())},
    lambda a: {**a, "razorpay_payment_id": "pay_SomeoneElse0001"},
    lambda a: {**a, "razorpay_signature": a["razorpay_signature"].upper()},
    lambda a: {**a, "razorpay_signature": "é" * 64},
])
def test_verification_with_a_bad_signature_is_400_and_changes_nothing(signed_in, db, razorpay_double, tamper):
    student, _, order, _ = checkout(signed_in, db)
    answer = tamper(razorpay_double.checkout_response(razorpay_double.pay(order["id"])))
    before = state(db)
    assert student.post_json(VERIFY, answer, status=400).json["error"]["code"] == "invalid_signature"
    assert state(db) == before and audited(db, "payment.verify_rejected") == 1


def test_verification_of_another_students_order_is_404(signed_in, db, razorpay_double):
    _, _, order, _ = checkout(signed_in, db)
    answer = razorpay_double.checkout_response(razorpay_double.pay(order["id"]))
    before = state(db)
    assert signed_in().post_json(VERIFY, answer, status=404).json["error"]["code"] == "not_found"
    assert state(db) == before


# --- reconciliation -----------------------------------------------------------------------------

def fifteen_minutes_pass(db):
    db.payments.update_many({"nextCheckAt": {"$ne": None}},
                            {"$set": {"nextCheckAt": now() - timedelta(seconds=1)}})


def test_reconciliation_waits_fifteen_minutes(signed_in, db, runtime, razorpay_double):
    checkout(signed_in, db)
    assert reconciliation.reconcile(db, runtime.razorpay) == 0
    assert razorpay_double.calls == [("POST", "/v1/orders")]


def test_reconciliation_applies_a_payment_the_webhook_never_delivered(signed_in, db, runtime,
                                                                      razorpay_double):
    student, course, order, _ = checkout(signed_in, db)
    razorpay_double.pay(order["id"], status="failed")
    razorpay_double.pay(order["id"])  # the second attempt succeeded; no webhook arrived
    fifteen_minutes_pass(db)
    assert reconciliation.reconcile(db, runtime.razorpay) == 1
    row = db.payments.find_one()
    assert [h["status"] for h in row["history"]] == ["created", "failed", "captured"]
    assert (row["nextCheckAt"], db.enrollments.find_one()["status"]) == (None, "active")
    assert db.auditLogs.find_one({"action": "payment.captured"})["details"]["via"] == "reconcile"
    student.get(f"/api/courses/{course['slug']}/lessons/setup")
    assert reconciliation.reconcile(db, runtime.razorpay) == 0  # captured orders are not checked again
    assert razorpay_double.calls.count(("GET", f"/v1/orders/{order['id']}/payments")) == 1


def test_reconciliation_of_an_unpaid_order_backs_off_then_stops(signed_in, db, runtime, razorpay_double):
    checkout(signed_in, db)
    intervals = []
    for _ in range(ledger.MAX_CHECKS):
        fifteen_minutes_pass(db)
        started = now()
        assert reconciliation.reconcile(db, runtime.razorpay) == 1
        row = db.payments.find_one()
        intervals.append(row["nextCheckAt"] and round((row["nextCheckAt"] - started).total_seconds() / 60))
    assert intervals == [30, 60, 120, 240, 360, 360, 360, 360, 360, None]
    assert (row["status"], row["checks"], db.enrollments.find_one()["status"]) == ("created", 10, "pending")


def test_reconciliation_finds_a_refund_too(signed_in, db, client, runtime, razorpay_double):
    _, _, order, _ = checkout(signed_in, db)
    razorpay_double.refund(razorpay_double.pay(order["id"])["id"])
    fifteen_minutes_pass(db)
    reconciliation.reconcile(db, runtime.razorpay)
    assert (db.payments.find_one()["status"], db.enrollments.find_one()["status"]) == ("refunded", "refunded")


def test_reconciliation_stops_when_razorpay_is_down_and_retries_a_minute_later(signed_in, db, runtime,
                                                                               razorpay_double):
    for _ in range(3):
        checkout(signed_in, db)
    fifteen_minutes_pass(db)
    razorpay_double.fail_next(1, status=503)
    assert reconciliation.reconcile(db, runtime.razorpay) == 0
    assert len(razorpay_double.calls) == 4  # three orders, then one check that failed: the run stopped
    retry = sorted(row["nextCheckAt"] - now() for row in db.payments.find())
    assert retry[0] < timedelta(0) and retry[1] < timedelta(0)  # the two not reached are still due
    assert timedelta(0) < retry[2] <= ledger.CHECK_LEASE
    assert [row["checks"] for row in db.payments.find()] == [0, 0, 0]
    fifteen_minutes_pass(db)
    assert reconciliation.reconcile(db, runtime.razorpay) == 3


def test_reconciliation_does_nothing_without_razorpay(make_settings, db, razorpay_double):
    assert reconciliation.reconcile(db, None) == 0 and razorpay_double.calls == []


def test_an_order_razorpay_does_not_know_backs_off_without_holding_up_the_others(signed_in, db, runtime,
                                                                                   razorpay_double):
    _, _, lost, _ = checkout(signed_in, db)
    _, _, order, _ = checkout(signed_in, db)
    del razorpay_double.orders[lost["id"]]  # say, created under other keys
    razorpay_double.pay(order["id"])
    fifteen_minutes_pass(db)
    assert reconciliation.reconcile(db, runtime.razorpay) == 2
    unknown = db.payments.find_one({"orderId": lost["id"]})
    paid = db.payments.find_one({"orderId": order["id"]})
    assert (unknown["status"], unknown["checks"], paid["status"]) == ("created", 1, "captured")
    assert unknown["nextCheckAt"] - now() > timedelta(minutes=25)
