"""The Razorpay webhook, signed as Razorpay signs it, with the payload shapes of Razorpay's
documentation: captures and activations exactly once under replays and races (over real
sockets), mismatched amounts, bad and missing signatures (counted, never audited), payloads we
cannot read, failed attempts, refunds, and deliveries that died midway. (Razorpay's sequences
from start to end: test_scenarios.py.)"""
import json
from datetime import timedelta

import pytest

from lms.db import now
from lms.payments import webhook as payments
from support.app import browser
from support.doubles.razorpay import sign
from support.factories import checkout, complete_course, paid_at_checkout, paid_enrollment
from lms.payments import rejected
from support.payments import ENROLL, WEBHOOK, audited, deliver, lesson_status, post_raw, race, state

# --- the webhook ------------------------------------------------------------------------------


def test_a_captured_payment_webhook_activates_the_enrollment(signed_in, db, client, razorpay_double):
    student, course, order, _ = checkout(signed_in, db)
    paid = razorpay_double.pay(order["id"])
    delivery = razorpay_double.webhook("payment.captured", paid)
    assert deliver(client, delivery) == "captured"
    row = db.payments.find_one()
    assert (row["status"], row["providerPaymentId"], row["rawResponse"]) == ("captured", paid["id"], paid)
    assert [h["event"] for h in row["history"]] == ["authorized", "captured"] and row["capturedAt"]
    assert (row["orderId"], row["amount"], row["method"], row["movements"][0]["kind"]) == (
        order["id"], 49900, "upi", "capture")
    assert db.enrollments.find_one()["status"] == "active" and db.orders.find_one()["status"] == "paid"
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


@pytest.mark.parametrize("change", [{"amount": 100}, {"currency": "USD"}, {"amount": "49900"}])
def test_a_mismatched_amount_or_currency_is_audited_once_and_grants_nothing(signed_in, db, client, razorpay_double,
                                                                            change):
    student, course, order, _ = checkout(signed_in, db)
    paid = {**razorpay_double.pay(order["id"]), **change}
    before = state(db)
    assert deliver(client, razorpay_double.webhook("payment.captured", paid)) == "mismatch"
    assert deliver(client, razorpay_double.webhook("order.paid", paid)) == "mismatch"
    assert state(db)["payments"] == before["payments"] == [] and state(db)["enrollments"] == before["enrollments"]
    assert lesson_status(student, course) == 403
    [entry] = db.auditLogs.find({"action": "payment.mismatch"})
    assert entry["actorId"] == "razorpay"
    assert entry["details"]["expected"] == {"orderId": order["id"], "amount": 49900, "currency": "INR"}
    assert entry["details"]["received"] == {"orderId": order["id"], "amount": paid["amount"],
                                            "currency": paid["currency"]}


@pytest.mark.parametrize("forge", [
    lambda body, h: (body, {**h, "X-Razorpay-Signature": ""}),
    lambda body, h: (body, {k: v for k, v in h.items() if k != "X-Razorpay-Signature"}),
    lambda body, h: (body, {**h, "X-Razorpay-Signature": sign("guessed-secret", body)}),
    lambda body, h: (body.replace(b"49900", b"100"), h),  # tampered after signing
    lambda body, h: (body + b" ", h),
    # not hex: UTF-8 bytes as WSGI carries them (as latin-1 code points; a header whose bytes are not
    # UTF-8 is refused as malformed before any signature is checked)
    lambda body, h: (body, {**h, "X-Razorpay-Signature": ("\u00e9" * 32).encode().decode("latin-1")}),
])
def test_bad_or_missing_signatures_are_400_counted_and_never_stored(signed_in, db, client, razorpay_double, forge,
                                                                    caplog):
    _, _, order, _ = checkout(signed_in, db)
    delivery = forge(*razorpay_double.webhook("payment.captured", razorpay_double.pay(order["id"])))
    before, entries = state(db), db.auditLogs.count_documents({})
    assert deliver(client, delivery, status=400) == "invalid_signature"
    assert state(db) == before and db.webhookEvents.count_documents({}) == 0
    assert db.auditLogs.count_documents({}) == entries  # what anyone may post is no audit entry
    assert rejected.totals(db)["webhook"]["today"] == 1
    [line] = [r.getMessage() for r in caplog.records if "webhook" in r.getMessage()]
    assert "203.0.113.7" in line and order["id"] not in line  # a log line without the body


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
    assert deliver(client, razorpay_double.webhook("payment.downtime.started", paid)) == "ignored"
    assert deliver(client, razorpay_double.webhook("payment.refunded", paid)) == "ignored"  # no such event
    no_refund = razorpay_double.webhook("refund.processed", paid)  # a refund event without its refund
    assert deliver(client, no_refund) == "malformed"
    not_a_payment = {**paid, "id": "pay_$ne", "status": "paid"}
    assert deliver(client, razorpay_double.webhook("payment.captured", not_a_payment)) == "malformed"
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
    again = student.post_json(ENROLL, {"courseId": course["_id"], "paymentMode": "razorpay"}).json
    assert again["order"] == order  # Checkout again, on the same order
    retried = razorpay_double.pay(order["id"])
    assert deliver(client, razorpay_double.webhook("order.paid", retried)) == "captured"
    assert db.enrollments.find_one()["status"] == "active" and audited(db, "payment.failed") == 1
    assert {p["providerPaymentId"]: p["status"] for p in db.payments.find()} == {
        failed["id"]: "failed", retried["id"]: "captured"}


def test_a_late_authorisation_captures_a_failed_payment(signed_in, db, client, razorpay_double):
    _, _, order, _ = checkout(signed_in, db)
    failed = razorpay_double.pay(order["id"], status="failed")
    assert deliver(client, razorpay_double.webhook("payment.failed", failed)) == "failed"
    late = {**failed, "status": "captured", "captured": True, "error_code": None}
    assert deliver(client, razorpay_double.webhook("payment.captured", late)) == "captured"
    assert deliver(client, razorpay_double.webhook("payment.failed", failed)) == "unchanged"  # stale, after
    assert db.enrollments.find_one()["status"] == "active" and db.payments.find_one()["status"] == "captured"


def test_failed_signatures_are_limited_per_address_and_valid_deliveries_never(app, db, razorpay_double):
    valid = razorpay_double.webhook("payment.downtime.started", {})
    junk = (valid[0], {**valid[1], "X-Razorpay-Signature": "0" * 64})
    caller, other = browser(app), browser(app)
    other.extra_environ["REMOTE_ADDR"] = "198.51.100.9"
    for _ in range(600):
        assert deliver(caller, junk, status=400) == "invalid_signature"
    for _ in range(650):  # signed deliveries are not counted, before or after the junk
        assert deliver(caller, valid) in ("ignored", "duplicate")
    response = caller.post(WEBHOOK, junk[0], headers=junk[1], status=429)
    assert response.json["error"]["code"] == "rate_limited" and int(response.headers["Retry-After"]) <= 60
    assert deliver(other, junk, status=400) == "invalid_signature"  # another address has its own count


# --- refunds ------------------------------------------------------------------------------------

def test_a_full_refund_ends_access_and_keeps_the_certificate(signed_in, db, client, razorpay_double):
    student, course, paid = paid_enrollment(signed_in, db, client, razorpay_double)
    complete_course(student, course)
    cert_id = db.certificates.find_one()["certId"]
    refund = razorpay_double.refund(paid["id"])
    delivery = razorpay_double.webhook("refund.processed", razorpay_double.payment(paid["id"]),
                                       razorpay_double.refunds[refund["id"]])
    assert deliver(client, delivery) == "refunded"
    row, enrollment = db.payments.find_one(), db.enrollments.find_one()
    assert (row["status"], row["amountRefunded"], row["refundedAt"] is not None) == ("refunded", 49900, True)
    assert [h["event"] for h in row["history"]] == ["authorized", "captured", "refund.processed"]
    assert row["refunds"][0]["id"] == refund["id"]
    assert (enrollment["status"], enrollment["refundedAt"] is not None) == ("refunded", True)
    student.get(f"/api/courses/{course['slug']}/lessons/setup", status=403)
    assert student.get("/api/enrollments").json["items"][0]["status"] == "refunded"
    assert client.get(f"/api/certificates/{cert_id}").json["certId"] == cert_id  # earned, so it stays
    entries = list(db.auditLogs.find({"action": {"$in": ["payment.refunded", "enrollment.refund"]}}))
    assert [(e["action"], e["actorId"]) for e in entries] == [("payment.refunded", "razorpay"),
                                                              ("enrollment.refund", "razorpay")]
    assert (entries[0]["details"]["providerPaymentId"], entries[0]["details"]["refundId"]) == (paid["id"], refund["id"])
    before = state(db)
    now_refunded = razorpay_double.payment(paid["id"])
    for again in ("refund.processed", "refund.created", "payment.captured"):  # replays, in any order
        assert deliver(client, razorpay_double.webhook(again, now_refunded, refund)) == "unchanged"
    assert deliver(client, razorpay_double.webhook("payment.captured", paid)) == "unchanged"  # stale
    assert state(db) == before


def test_an_auto_refund_of_an_uncaptured_payment_changes_nothing_but_that_payment(signed_in, db, client,
                                                                                  razorpay_double):
    razorpay_double.auto_capture = False
    student, course, order, _ = checkout(signed_in, db)
    payment = razorpay_double.expire_authorization(razorpay_double.pay(order["id"])["id"])
    assert (payment["status"], payment["captured"]) == ("refunded", False)
    before = state(db)
    delivery = razorpay_double.deliveries("refund.processed")[0]
    assert deliver(client, delivery) == "refunded"
    row = db.payments.find_one()
    assert (row["status"], row["capturedAt"], row["movements"]) == ("refunded", None, [])  # no money moved
    assert state(db)["enrollments"] == before["enrollments"] and lesson_status(student, course) == 403
    assert audited(db, "payment.auto_refunded") == 1 and audited(db, "enrollment.refund") == 0


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
    response = student.post_json(ENROLL, {"courseId": course["_id"], "paymentMode": "razorpay"}, status=409)
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


