"""The Razorpay webhook, signed as Razorpay signs it, with the payload shapes of Razorpay's
documentation: captures and activations exactly once under replays and races (over real
sockets), events in any order, mismatched amounts, bad and missing signatures, failed attempts,
refunds, and deliveries that died midway."""
import json
from datetime import timedelta

import pytest

from lms.db import now
from lms.payments import webhook as payments
from support.app import browser
from support.doubles.razorpay import sign
from support.factories import checkout, complete_course, paid_at_checkout, paid_enrollment
from support.live import call
from support.payments import ENROLL, VERIFY, WEBHOOK, audited, deliver, post_raw, race, state

# --- the webhook ------------------------------------------------------------------------------


def test_a_captured_payment_webhook_activates_the_enrollment(signed_in, db, client, razorpay_double):
    student, course, order, _ = checkout(signed_in, db)
    paid = razorpay_double.pay(order["id"])
    delivery = razorpay_double.webhook("payment.captured", paid)
    assert deliver(client, delivery) == "captured"
    row = db.payments.find_one()
    assert (row["status"], row["providerPaymentId"], row["rawResponse"]) == ("captured", paid["id"], paid)
    assert [h["status"] for h in row["history"]] == ["created", "captured"] and row["capturedAt"]
    assert db.enrollments.find_one()["status"] == "active"
    student.get(f"/api/courses/{course['slug']}/lessons/setup")
    entry = db.auditLogs.find_one({"action": "payment.captured"})
    assert (entry["actorId"], entry["ip"]) == ("razorpay", "203.0.113.7")
    assert entry["details"]["via"] == "webhook:payment.captured"
    assert db.auditLogs.find_one({"action": "enrollment.activate"})["actorId"] == "razorpay"
    event_id = delivery[1]["X-Razorpay-Event-Id"]
    assert db.webhookEvents.find_one({"_id": event_id})["outcome"] == "captured"


def test_replays_change_nothing_with_or_without_the_event_id(signed_in, db, client, razorpay_double):
    _, _, order, _ = checkout(signed_in, db)
    paid = razorpay_double.pay(order["id"])
    delivery = razorpay_double.webhook("payment.captured", paid)
    deliver(client, delivery)
    before = state(db)
    assert deliver(client, delivery) == "duplicate"
    assert deliver(client, razorpay_double.webhook("payment.captured", paid)) == "unchanged"  # a new event id
    body, headers = razorpay_double.webhook("payment.captured", paid)
    del headers["X-Razorpay-Event-Id"]
    assert deliver(client, (body, headers)) == "unchanged"
    assert deliver(client, razorpay_double.webhook("order.paid", paid)) == "unchanged"
    assert state(db) == before and audited(db, "payment.captured") == audited(db, "enrollment.activate") == 1


def test_ten_concurrent_deliveries_of_one_event_capture_once(live_server, db, razorpay_double):
    server = live_server(**razorpay_double.env)
    _, paid = paid_at_checkout(server, db, razorpay_double)
    body, headers = razorpay_double.webhook("payment.captured", paid)
    results = race(*[lambda: post_raw(server.url + WEBHOOK, body, headers)] * 10)
    assert sorted(outcome["outcome"] for _, outcome in results) == ["captured"] + ["duplicate"] * 9
    assert db.payments.find_one()["status"] == "captured" and db.enrollments.find_one()["status"] == "active"
    assert audited(db, "payment.captured") == audited(db, "enrollment.activate") == 1
    # The same event under ten new ids at once: the state guards alone keep it to one change.
    fresh = lambda: post_raw(server.url + WEBHOOK, *razorpay_double.webhook("payment.captured", paid))
    assert [outcome["outcome"] for _, outcome in race(*[fresh] * 10)] == ["unchanged"] * 10
    assert audited(db, "payment.captured") == audited(db, "enrollment.activate") == 1


def test_verify_and_webhook_racing_capture_once(live_server, db, razorpay_double):
    server = live_server(**razorpay_double.env)
    auth, paid = paid_at_checkout(server, db, razorpay_double)
    answer = razorpay_double.checkout_response(paid)
    verify = lambda: call("POST", server.url + VERIFY, answer, auth)[:2]
    hooks = [lambda e=e: post_raw(server.url + WEBHOOK, *razorpay_double.webhook(e, paid))
             for e in ("payment.captured", "order.paid") * 3]
    results = race(*[verify] * 4, *hooks)
    assert [status for status, _ in results] == [200] * 10, server.stdout + server.stderr
    assert db.enrollments.find_one()["status"] == "active"
    assert audited(db, "payment.captured") == audited(db, "enrollment.activate") == 1


@pytest.mark.parametrize("change", [{"amount": 100}, {"currency": "USD"}, {"amount": "49900"}])
def test_a_mismatched_amount_or_currency_is_audited_and_changes_nothing(signed_in, db, client, razorpay_double,
                                                                       change):
    _, _, order, _ = checkout(signed_in, db)
    paid = {**razorpay_double.pay(order["id"]), **change}
    before = state(db)
    assert deliver(client, razorpay_double.webhook("payment.captured", paid)) == "mismatch"
    assert state(db) == before
    entry = db.auditLogs.find_one({"action": "payment.mismatch"})
    assert entry["actorId"] == "razorpay"
    assert entry["details"]["expected"] == {"amount": 49900, "currency": "INR"}


@pytest.mark.parametrize("forge", [
    lambda body, h: (body, {**h, "X-Razorpay-Signature": ""}),
    lambda body, h: (body, {k: v for k, v in h.items() if k != "X-Razorpay-Signature"}),
    lambda body, h: (body, {**h, "X-Razorpay-Signature": sign("guessed-secret", body)}),
    lambda body, h: (body.replace(b"49900", b"100"), h),  # tampered after signing
    lambda body, h: (body + b" ", h),
    lambda body, h: (body, {**h, "X-Razorpay-Signature": "\u00e9" * 64}),
])
def test_bad_or_missing_signatures_are_400_audited_without_the_body(signed_in, db, client, razorpay_double,
                                                                    forge):
    _, _, order, _ = checkout(signed_in, db)
    delivery = forge(*razorpay_double.webhook("payment.captured", razorpay_double.pay(order["id"])))
    before = state(db)
    assert deliver(client, delivery, status=400) == "invalid_signature"
    assert state(db) == before and db.webhookEvents.count_documents({}) == 0
    entry = db.auditLogs.find_one({"action": "payment.webhook_rejected"})
    assert entry["ip"] == "203.0.113.7" and order["id"] not in json.dumps(entry, default=str)


def test_the_signature_is_checked_over_the_bytes_as_sent(signed_in, db, client, razorpay_double):
    _, _, order, _ = checkout(signed_in, db)
    paid = {**razorpay_double.pay(order["id"]), "notes": {"name": "अमित कुमार"}}
    event = {"entity": "event", "event": "payment.captured", "payload": {"payment": {"entity": paid}}}
    body = json.dumps(event, ensure_ascii=False, indent=3).encode()  # re-encoding would change these bytes
    assert deliver(client, razorpay_double.webhook("payment.captured", paid, body=body)) == "captured"


def test_signed_deliveries_we_do_not_act_on_are_acknowledged(signed_in, db, client, razorpay_double):
    _, _, order, _ = checkout(signed_in, db)
    paid = razorpay_double.pay(order["id"])
    before = state(db)
    assert deliver(client, razorpay_double.webhook("payment.authorized", paid)) == "ignored"
    stranger = {**paid, "order_id": "order_OtherShop00001"}  # another integration on the account
    assert deliver(client, razorpay_double.webhook("payment.captured", stranger)) == "unknown_order"
    no_payment = json.dumps({"entity": "event", "event": "payment.captured", "payload": {}}).encode()
    assert deliver(client, razorpay_double.webhook("payment.captured", paid, body=no_payment)) == "malformed"
    assert deliver(client, razorpay_double.webhook("payment.captured", paid, body=b"not json"),
                   status=400) == "invalid_json"
    assert state(db) == before


def test_a_failed_attempt_leaves_the_order_open_for_the_next(signed_in, db, client, razorpay_double):
    student, course, order, _ = checkout(signed_in, db)
    failed = razorpay_double.pay(order["id"], status="failed")
    assert deliver(client, razorpay_double.webhook("payment.failed", failed)) == "failed"
    row = db.payments.find_one()
    assert (row["status"], row["lastError"]["reason"]) == ("failed", "incorrect_pin") and row["failedAt"]
    assert deliver(client, razorpay_double.webhook("payment.failed", failed)) == "unchanged"
    assert student.post_json(ENROLL, {"courseId": course["_id"]}).json["order"] == order  # retry Checkout
    retried = razorpay_double.pay(order["id"])
    assert deliver(client, razorpay_double.webhook("order.paid", retried)) == "captured"
    assert db.enrollments.find_one()["status"] == "active" and audited(db, "payment.failed") == 1
    assert [h["status"] for h in db.payments.find_one()["history"]] == ["created", "failed", "captured"]


def test_a_late_authorisation_captures_a_failed_payment(signed_in, db, client, razorpay_double):
    _, _, order, _ = checkout(signed_in, db)
    failed = razorpay_double.pay(order["id"], status="failed")
    assert deliver(client, razorpay_double.webhook("payment.failed", failed)) == "failed"
    late = {**failed, "status": "captured", "captured": True, "error_code": None}
    assert deliver(client, razorpay_double.webhook("payment.captured", late)) == "captured"
    assert deliver(client, razorpay_double.webhook("payment.failed", failed)) == "unchanged"  # stale, after
    assert db.enrollments.find_one()["status"] == "active" and db.payments.find_one()["status"] == "captured"


def test_webhooks_are_rate_limited_per_ip(app, db, razorpay_double):
    body, headers = razorpay_double.webhook("payment.authorized", {})
    del headers["X-Razorpay-Event-Id"]  # so the 600 deliveries write nothing but the counter
    caller, other = browser(app), browser(app)
    other.extra_environ["REMOTE_ADDR"] = "198.51.100.9"
    for _ in range(600):
        assert deliver(caller, (body, headers)) == "ignored"
    response = caller.post(WEBHOOK, body, headers=headers, status=429)
    assert response.json["error"]["code"] == "rate_limited" and int(response.headers["Retry-After"]) <= 60
    assert deliver(other, (body, headers)) == "ignored"


# --- refunds ------------------------------------------------------------------------------------

@pytest.mark.parametrize("event", ["refund.processed", "payment.refunded"])
def test_a_full_refund_ends_access_and_keeps_the_certificate(signed_in, db, client, razorpay_double, event):
    student, course, paid = paid_enrollment(signed_in, db, client, razorpay_double)
    complete_course(student, course)
    cert_id = db.certificates.find_one()["certId"]
    refund = razorpay_double.refund(paid["id"])
    delivery = razorpay_double.webhook(event, razorpay_double.payment(paid["id"]), refund)
    assert deliver(client, delivery) == "refunded"
    row, enrollment = db.payments.find_one(), db.enrollments.find_one()
    assert (row["status"], row["amountRefunded"], row["refundedAt"] is not None) == ("refunded", 49900, True)
    assert [h["status"] for h in row["history"]] == ["created", "captured", "refunded"]
    assert (enrollment["status"], enrollment["refundedAt"] is not None) == ("refunded", True)
    student.get(f"/api/courses/{course['slug']}/lessons/setup", status=403)
    assert student.get("/api/enrollments").json["items"][0]["status"] == "refunded"
    assert client.get(f"/api/certificates/{cert_id}").json["certId"] == cert_id  # earned, so it stays
    assert [(e["action"], e["actorId"]) for e in db.auditLogs.find(
        {"action": {"$in": ["payment.refunded", "enrollment.refund"]}})] == [
        ("payment.refunded", "razorpay"), ("enrollment.refund", "razorpay")]
    before = state(db)
    now_refunded = razorpay_double.payment(paid["id"])
    for again in ("refund.processed", "payment.refunded", "payment.captured"):  # replays, in any order
        assert deliver(client, razorpay_double.webhook(again, now_refunded, refund)) == "unchanged"
    assert deliver(client, razorpay_double.webhook("payment.captured", paid)) == "unchanged"  # stale
    assert state(db) == before


def test_a_partial_refund_is_recorded_and_keeps_access(signed_in, db, client, razorpay_double):
    student, course, paid = paid_enrollment(signed_in, db, client, razorpay_double)
    first = razorpay_double.refund(paid["id"], amount=9900)
    snapshot = razorpay_double.payment(paid["id"])
    delivery = razorpay_double.webhook("refund.processed", snapshot, first)
    assert deliver(client, delivery) == "partially_refunded"
    row = db.payments.find_one()
    assert (row["status"], row["amountRefunded"]) == ("captured", 9900)
    assert row["history"][-1]["status"] == "partially_refunded"
    student.get(f"/api/courses/{course['slug']}/lessons/setup")
    assert deliver(client, razorpay_double.webhook("refund.processed", snapshot, first)) == "unchanged"
    rest = razorpay_double.refund(paid["id"])
    delivery = razorpay_double.webhook("refund.processed", razorpay_double.payment(paid["id"]), rest)
    assert deliver(client, delivery) == "refunded"
    stale = razorpay_double.webhook("refund.processed", snapshot, first)  # late, and older
    assert deliver(client, stale) == "unchanged"
    assert db.payments.find_one()["amountRefunded"] == 49900
    assert db.enrollments.find_one()["status"] == "refunded"


def test_a_refund_that_arrives_before_the_capture_still_ends_refunded(signed_in, db, client, razorpay_double):
    student, course, order, _ = checkout(signed_in, db)
    paid = razorpay_double.pay(order["id"])
    refund = razorpay_double.refund(paid["id"])
    delivery = razorpay_double.webhook("refund.processed", razorpay_double.payment(paid["id"]), refund)
    assert deliver(client, delivery) == "refunded"
    assert deliver(client, razorpay_double.webhook("payment.captured", paid)) == "unchanged"
    assert deliver(client, razorpay_double.webhook("order.paid", paid)) == "unchanged"
    assert (db.payments.find_one()["status"], db.enrollments.find_one()["status"]) == ("refunded", "refunded")
    # Enrolling again after a refund is a new purchase with a new order.
    again = student.post_json(ENROLL, {"courseId": course["_id"]}).json
    assert again["enrollment"]["status"] == "pending" and again["order"]["id"] != order["id"]


def test_an_auto_refund_of_an_uncaptured_payment_changes_nothing(signed_in, db, client, razorpay_double):
    _, _, order, _ = checkout(signed_in, db)
    authorised = {**razorpay_double.pay(order["id"]), "status": "refunded", "captured": False,
                  "amount_refunded": 49900, "refund_status": "full"}
    before = state(db)
    assert deliver(client, razorpay_double.webhook("refund.processed", authorised)) == "unchanged"
    assert state(db) == before


# --- a crash between two writes is finished by the next attempt ----------------------------------

def test_a_capture_whose_activation_was_lost_is_finished_by_a_replay_or_by_enrolling(signed_in, db, client,
                                                                                      razorpay_double):
    student, course, order, _ = checkout(signed_in, db)
    paid = razorpay_double.pay(order["id"])
    deliver(client, razorpay_double.webhook("payment.captured", paid))
    lost = {"$set": {"status": "pending", "activatedAt": None}}
    db.enrollments.update_one({}, lost)  # as if the process died between the two writes
    assert deliver(client, razorpay_double.webhook("payment.captured", paid)) == "unchanged"
    assert db.enrollments.find_one()["status"] == "active"
    db.enrollments.update_one({}, lost)
    response = student.post_json(ENROLL, {"courseId": course["_id"]}, status=409)
    assert response.json["error"]["code"] == "already_enrolled"
    assert db.enrollments.find_one()["status"] == "active"
    assert db.payments.count_documents({}) == 1 and len(razorpay_double.calls) == 1  # not sold twice


def test_a_delivery_that_died_midway_is_taken_over_by_razorpays_retry(signed_in, db, client, razorpay_double):
    _, _, order, _ = checkout(signed_in, db)
    delivery = razorpay_double.webhook("payment.captured", razorpay_double.pay(order["id"]))
    event_id = delivery[1]["X-Razorpay-Event-Id"]
    db.webhookEvents.insert_one({"_id": event_id, "event": "payment.captured", "outcome": "processing",
                                 "receivedAt": now() - timedelta(seconds=5)})
    assert deliver(client, delivery) == "duplicate"  # still being processed, as far as we know
    long_ago = now() - payments.STALE_DELIVERY * 2
    db.webhookEvents.update_one({"_id": event_id}, {"$set": {"receivedAt": long_ago}})
    assert deliver(client, delivery) == "captured"
    assert db.webhookEvents.find_one({"_id": event_id})["outcome"] == "captured"


