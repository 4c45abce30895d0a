"""Checkout's confirmation (``POST /api/payments/verify``): the signature proves which payment
Checkout saw for our order; the payment itself is fetched from Razorpay, checked like a webhook's
and captured when it is only authorised. Bad signatures are counted, not audited; each user has
a limit; the receipt goes out once."""
import pytest

from lms.adapters.mail import queue as mail
from lms.payments import rejected
from support.doubles.razorpay import sign
from support.factories import checkout, paid_at_checkout
from support.live import call
from support.payments import (VERIFY, WEBHOOK, audited, deliver_all, lesson_status, post_raw, race, run_captures,
                              state, trail)


def test_confirming_a_captured_payment_activates_the_enrollment_once(signed_in, db, razorpay_double):
    student, course, order, _ = checkout(signed_in, db)
    answer = razorpay_double.checkout_response(razorpay_double.pay(order["id"]))  # the account captured it
    body = student.post_json(VERIFY, answer).json
    payment, enrollment = body["payment"], body["enrollment"]
    assert (payment["status"], payment["providerPaymentId"], payment["method"]) == (
        "captured", answer["razorpay_payment_id"], "upi")
    assert (enrollment["status"], enrollment["paymentId"]) == ("active", payment["id"])
    assert payment["capturedAt"].endswith("Z") and "rawResponse" not in payment and "history" not in payment
    assert razorpay_double.calls[-1] == ("GET", f"/v1/payments/{answer['razorpay_payment_id']}")
    assert lesson_status(student, course) == 200
    entry = db.auditLogs.find_one({"action": "payment.captured"})
    assert (entry["actorId"], entry["details"]["via"]) == (student.user["_id"], "checkout")
    before = state(db)
    assert student.post_json(VERIFY, answer).json["enrollment"]["status"] == "active"
    assert state(db) == before and audited(db, "payment.captured") == audited(db, "enrollment.activate") == 1


def test_confirming_an_authorised_payment_captures_it_then_and_there(signed_in, db, client, runtime, razorpay_double):
    razorpay_double.auto_capture = False
    student, course, order, _ = checkout(signed_in, db)
    payment = razorpay_double.pay(order["id"])
    body = student.post_json(VERIFY, razorpay_double.checkout_response(payment)).json
    assert (body["payment"]["status"], body["enrollment"]["status"]) == ("captured", "active")
    assert razorpay_double.calls[-2:] == [("GET", f"/v1/payments/{payment['id']}"),
                                          ("POST", f"/v1/payments/{payment['id']}/capture")]
    # The webhooks of the same story come afterwards and change nothing; nor does the queued capture.
    assert deliver_all(client, razorpay_double) == ["unchanged", "unchanged", "unchanged"]
    assert run_captures(runtime) == 0
    assert trail(db) == ["payment.authorized", "payment.captured", "enrollment.activate"]


def test_the_receipt_names_the_amount_the_ids_and_the_organisation(signed_in, db, razorpay_double):
    student, course, order, _ = checkout(signed_in, db, title="Data  Science\nBootcamp", price=149950)
    payment = razorpay_double.pay(order["id"])
    student.post_json(VERIFY, razorpay_double.checkout_response(payment))
    student.post_json(VERIFY, razorpay_double.checkout_response(payment))  # again: no second receipt
    [receipt] = db.mails.find({"kind": "receipt"})
    assert receipt["to"] == student.user["email"] and receipt["subject"] == "Receipt: Data Science Bootcamp"
    for text in ("₹1,499.50 INR", payment["id"], order["id"], "Data Science Bootcamp", "upi", "LMS"):
        assert text in receipt["text"] and text in receipt["html"]
    assert receipt["status"] == mail.MAIL.waiting


@pytest.mark.parametrize("razorpay_env", [{"LMS_ORG_NAME": "Acme Learning", "LMS_ORG_ADDRESS": "12 MG Road\\nBengaluru"}])
def test_the_receipt_is_signed_with_the_organisations_name_and_address(signed_in, db, razorpay_double):
    student, _, order, _ = checkout(signed_in, db)
    student.post_json(VERIFY, razorpay_double.checkout_response(razorpay_double.pay(order["id"])))
    receipt = db.mails.find_one({"kind": "receipt"})
    assert receipt["text"].rstrip().endswith("Acme Learning\n12 MG Road\nBengaluru")
    assert "Acme Learning\n12 MG Road\nBengaluru" in receipt["html"]


@pytest.mark.parametrize("tamper", [
    lambda a: {**a, "razorpay_signature": sign(
        "wrong-secret", f"{a['razorpay_order_id']}|{a['razorpay_payment_id']}".encode())},
    lambda a: {**a, "razorpay_payment_id": "pay_SomeoneElse0001"},
    lambda a: {**a, "razorpay_signature": a["razorpay_signature"].upper()},
    lambda a: {**a, "razorpay_signature": "é" * 64},
])
def test_a_bad_signature_is_400_counted_and_not_audited(signed_in, db, razorpay_double, tamper):
    student, _, order, _ = checkout(signed_in, db)
    answer = tamper(razorpay_double.checkout_response(razorpay_double.pay(order["id"])))
    before, calls = state(db), len(razorpay_double.calls)
    assert student.post_json(VERIFY, answer, status=400).json["error"]["code"] == "invalid_signature"
    assert state(db) == before and len(razorpay_double.calls) == calls  # Razorpay was not asked
    assert db.auditLogs.count_documents({"action": {"$regex": "^payment.(verify|webhook)"}}) == 0
    assert rejected.totals(db)["verify"]["today"] == 1


def test_another_students_order_is_404(signed_in, db, razorpay_double):
    _, _, order, _ = checkout(signed_in, db)
    answer = razorpay_double.checkout_response(razorpay_double.pay(order["id"]))
    before = state(db)
    assert signed_in().post_json(VERIFY, answer, status=404).json["error"]["code"] == "not_found"
    assert state(db) == before


def test_a_payment_that_does_not_match_its_order_is_409_and_grants_nothing(signed_in, db, razorpay_double):
    student, course, order, _ = checkout(signed_in, db)
    payment = razorpay_double.pay(order["id"])
    razorpay_double.payments[payment["id"]]["amount"] = 100  # what Razorpay says differs from our order
    response = student.post_json(VERIFY, razorpay_double.checkout_response(payment), status=409)
    assert response.json["error"]["code"] == "payment_mismatch"
    assert db.payments.count_documents({}) == 0 and lesson_status(student, course) == 403
    entry = db.auditLogs.find_one({"action": "payment.mismatch"})
    assert entry["details"]["received"]["amount"] == 100 and entry["actorId"] == student.user["_id"]


def test_razorpay_down_while_confirming_is_502_and_the_webhook_still_settles_it(signed_in, db, client, razorpay_double):
    student, course, order, _ = checkout(signed_in, db)
    answer = razorpay_double.checkout_response(razorpay_double.pay(order["id"]))
    razorpay_double.fail_next(1, status=503)
    assert student.post_json(VERIFY, answer, status=502).json["error"]["code"] == "razorpay_unavailable"
    assert db.payments.count_documents({}) == 0
    deliver_all(client, razorpay_double)
    assert lesson_status(student, course) == 200


def test_confirmations_are_limited_per_user(signed_in, db, razorpay_double):
    student, _, order, _ = checkout(signed_in, db)
    answer = razorpay_double.checkout_response(razorpay_double.pay(order["id"]))
    for _ in range(20):
        student.post_json(VERIFY, answer)
    response = student.post_json(VERIFY, answer, status=429)
    assert response.json["error"]["code"] == "rate_limited" and int(response.headers["Retry-After"]) <= 600
    other, _, order, _ = checkout(signed_in, db)  # another user is counted apart
    other.post_json(VERIFY, razorpay_double.checkout_response(razorpay_double.pay(order["id"])))


def test_verify_and_webhook_racing_capture_once(live_server, db, razorpay_double):
    server = live_server(**razorpay_double.env)
    auth, paid = paid_at_checkout(server, db, razorpay_double)
    answer = razorpay_double.checkout_response(paid)
    verify = lambda: call("POST", server.url + VERIFY, answer, auth)[:2]
    hooks = [lambda d=d: post_raw(server.url + WEBHOOK, *d) for d in razorpay_double.deliveries()] * 2
    results = race(*[verify] * 4, *hooks)
    assert [status for status, _ in results] == [200] * 10, server.stdout + server.stderr
    assert db.enrollments.find_one()["status"] == "active"
    assert audited(db, "payment.captured") == audited(db, "enrollment.activate") == 1
    assert db.mails.count_documents({"kind": "receipt"}) == 1

