"""Razorpay's documented sequences, replayed through the real webhook (and the worker's
captures, reconciliation and Checkout's confirmation where Razorpay's story goes through them).
After each, four things are exactly what Razorpay's state implies: the student's access to the
lessons, the payment rows, the revenue in the analytics and the audit trail."""
from datetime import timedelta

import pytest

from lms.db import now
from lms.payments import reconcile
from support.factories import checkout
from support.payments import (VERIFY, WEBHOOK, deliver, deliver_all, lesson_status, revenue, run_captures,
                              statuses, trail)

PAID = ["payment.authorized", "payment.captured", "enrollment.activate"]


def test_a_second_payment_on_a_paid_order_is_refunded_by_razorpay_and_access_stays(signed_in, db, client, admin,
                                                                                   runtime, razorpay_double):
    student, course, order, _ = checkout(signed_in, db)
    first = razorpay_double.pay(order["id"])
    second = razorpay_double.pay(order["id"])  # a second tab: Razorpay refunds it at once, never captured
    assert razorpay_double.payment(second["id"])["status"] == "refunded"
    assert deliver_all(client, razorpay_double) == [
        "capture_queued", "captured", "unchanged",  # the first: authorized, captured, order.paid
        "capture_declined", "refund_pending", "refunded"]  # the second: authorized, refund.created, .processed
    assert run_captures(runtime) == 0  # the first was captured by the account already
    assert lesson_status(student, course) == 200
    assert statuses(db) == {first["id"]: "captured", second["id"]: "refunded"}
    row = db.payments.find_one({"providerPaymentId": second["id"]})
    assert (row["duplicate"], row["capturedAt"], row["amountRefunded"]) == (True, None, 49900)
    assert revenue(admin) == 49900
    assert trail(db) == [*PAID, "payment.authorized", "payment.capture_declined", "payment.duplicate",
                         "payment.refund_pending", "payment.auto_refunded"]
    assert db.notifications.find_one({"userId": admin.user["_id"]})["title"] == "A second payment for one enrollment"


def test_a_late_authorisation_after_a_success_is_refunded_and_never_takes_access(signed_in, db, client, admin,
                                                                                 razorpay_double):
    student, course, order, _ = checkout(signed_in, db)
    timed_out = razorpay_double.pay(order["id"], status="failed")  # the UPI app did not answer in time
    retried = razorpay_double.pay(order["id"])  # the student tried again: success
    razorpay_double.late_authorize(timed_out["id"])  # the bank authorises the first one after all
    outcomes = deliver_all(client, razorpay_double)
    assert outcomes == ["failed", "capture_queued", "captured", "unchanged", "capture_declined", "refund_pending",
                        "refunded"]
    assert lesson_status(student, course) == 200
    assert statuses(db) == {timed_out["id"]: "refunded", retried["id"]: "captured"}
    assert revenue(admin) == 49900
    assert trail(db) == ["payment.failed", *PAID, "payment.authorized", "payment.capture_declined",
                         "payment.duplicate", "payment.refund_pending", "payment.auto_refunded"]


def test_a_failed_payment_authorised_late_is_captured_and_grants_access(signed_in, db, client, admin, razorpay_double):
    student, course, order, _ = checkout(signed_in, db)
    payment = razorpay_double.pay(order["id"], status="failed")
    assert deliver_all(client, razorpay_double) == ["failed"]
    assert lesson_status(student, course) == 403
    razorpay_double.late_authorize(payment["id"])
    assert deliver_all(client, razorpay_double) == ["capture_queued", "captured", "unchanged"]
    assert lesson_status(student, course) == 200
    row = db.payments.find_one()
    assert [h["event"] for h in row["history"]] == ["failed", "authorized", "captured"]
    assert statuses(db) == {payment["id"]: "captured"} and revenue(admin) == 49900
    assert trail(db) == ["payment.failed", *PAID]


def test_a_refund_delivered_before_the_capture_ends_refunded(signed_in, db, client, admin, razorpay_double):
    student, course, order, _ = checkout(signed_in, db)
    payment = razorpay_double.pay(order["id"])
    razorpay_double.refund(payment["id"])
    outcomes = deliver_all(client, razorpay_double, order=reversed)  # every event, the last sent first
    assert outcomes == ["refunded", "unchanged", "unchanged", "unchanged", "unchanged"]
    assert lesson_status(student, course) == 403
    assert db.enrollments.find_one()["status"] == "refunded"
    assert statuses(db) == {payment["id"]: "refunded"} and revenue(admin) == 0
    # One delivery said both: the payment's events first, then what they meant for the enrollment.
    assert trail(db) == ["payment.authorized", "payment.captured", "payment.refunded", "enrollment.activate",
                         "enrollment.refund"]


def test_a_partial_refund_keeps_access_and_the_rest_ends_it(signed_in, db, client, admin, razorpay_double):
    student, course, order, _ = checkout(signed_in, db)
    payment = razorpay_double.pay(order["id"])
    deliver_all(client, razorpay_double)
    razorpay_double.refund(payment["id"], 9900)
    assert deliver_all(client, razorpay_double) == ["refund_pending", "partially_refunded"]
    assert lesson_status(student, course) == 200
    assert statuses(db) == {payment["id"]: "partially_refunded"} and revenue(admin) == 40000
    razorpay_double.refund(payment["id"])
    assert deliver_all(client, razorpay_double) == ["refund_pending", "refunded"]
    assert lesson_status(student, course) == 403
    row = db.payments.find_one()
    assert (row["status"], row["amountRefunded"], len(row["refunds"])) == ("refunded", 49900, 2)
    assert revenue(admin) == 0
    assert trail(db) == [*PAID, "payment.refund_pending", "payment.partially_refunded", "payment.refund_pending",
                         "payment.refunded", "enrollment.refund"]


@pytest.mark.parametrize("outcome, access, net, status", [
    ("lost", 403, 0, "refunded"), ("won", 200, 49900, "captured"), ("closed", 200, 49900, "captured")])
def test_a_dispute_flags_the_payment_and_only_a_loss_ends_access(signed_in, db, client, admin, razorpay_double,
                                                                 outcome, access, net, status):
    student, course, order, _ = checkout(signed_in, db)
    payment = razorpay_double.pay(order["id"])
    deliver_all(client, razorpay_double)
    dispute = razorpay_double.dispute(payment["id"])
    assert deliver_all(client, razorpay_double) == ["dispute_open"]
    assert lesson_status(student, course) == 200 and statuses(db) == {payment["id"]: "disputed"}
    assert db.notifications.find_one({"userId": admin.user["_id"]})["title"] == "A payment is disputed"
    razorpay_double.resolve(dispute["id"], "under_review")
    razorpay_double.resolve(dispute["id"], outcome)
    assert deliver_all(client, razorpay_double) == ["dispute_under_review", f"dispute_{outcome}"]
    assert lesson_status(student, course) == access
    assert statuses(db) == {payment["id"]: status} and revenue(admin) == net
    row = db.payments.find_one()
    assert [(d["id"], d["status"]) for d in row["disputes"]] == [(dispute["id"], outcome)]
    assert row["amountDisputed"] == (49900 if outcome == "lost" else 0)
    assert trail(db) == [*PAID, "payment.disputed", "payment.dispute_under_review", f"payment.dispute_{outcome}",
                         *(["enrollment.refund"] if outcome == "lost" else [])]
    # A late copy of the opening event does not reopen a settled dispute.
    assert deliver(client, razorpay_double.webhook("payment.dispute.created", payment, dispute=dispute)) == "unchanged"


def test_an_authorised_payment_is_captured_by_the_service_and_access_starts_at_capture(signed_in, db, client, admin,
                                                                                       runtime, razorpay_double):
    razorpay_double.auto_capture = False  # the account captures nothing by itself
    student, course, order, _ = checkout(signed_in, db)
    payment = razorpay_double.pay(order["id"])
    calls = len(razorpay_double.calls)
    assert deliver_all(client, razorpay_double) == ["capture_queued"]
    assert len(razorpay_double.calls) == calls  # the delivery was answered without calling Razorpay
    assert lesson_status(student, course) == 403 and statuses(db) == {payment["id"]: "authorized"}
    assert run_captures(runtime) == 1  # the worker captures: the order's amount and currency
    assert razorpay_double.calls[-1] == ("POST", f"/v1/payments/{payment['id']}/capture")
    assert razorpay_double.payment(payment["id"])["status"] == "captured"
    assert lesson_status(student, course) == 200 and revenue(admin) == 49900
    assert deliver_all(client, razorpay_double) == ["unchanged", "unchanged"]  # Razorpay's payment.captured, order.paid
    assert run_captures(runtime) == 0
    assert trail(db) == PAID
    assert db.auditLogs.find_one({"action": "payment.captured"})["details"]["via"] == "capture"


@pytest.mark.parametrize("razorpay_env", [{"RAZORPAY_AUTO_CAPTURE": "1"}])
def test_with_automatic_capture_declared_the_service_waits_for_razorpays_capture(signed_in, db, client, admin,
                                                                                 runtime, razorpay_double):
    student, course, order, _ = checkout(signed_in, db)
    razorpay_double.auto_capture = False  # ... yet this account never captures: an authorisation only
    payment = razorpay_double.pay(order["id"])
    assert deliver_all(client, razorpay_double) == ["awaiting_capture"]
    answer = student.post_json(VERIFY, razorpay_double.checkout_response(payment)).json  # nor does Checkout's handler
    assert (answer["payment"]["status"], answer["enrollment"]["status"]) == ("authorized", "pending")
    assert run_captures(runtime) == 0 and lesson_status(student, course) == 403
    razorpay_double.expire_authorization(payment["id"])  # three days later Razorpay refunds it
    assert deliver_all(client, razorpay_double) == ["refund_pending", "refunded"]
    assert lesson_status(student, course) == 403 and statuses(db) == {payment["id"]: "refunded"}
    assert revenue(admin) == 0
    assert trail(db) == ["payment.authorized", "payment.refund_pending", "payment.auto_refunded"]


@pytest.mark.parametrize("razorpay_env", [{"RAZORPAY_AUTO_CAPTURE": "1"}])
def test_with_automatic_capture_access_starts_at_razorpays_capture(signed_in, db, client, admin, razorpay_double):
    student, course, order, _ = checkout(signed_in, db)
    payment = razorpay_double.pay(order["id"])
    assert deliver_all(client, razorpay_double, "payment.authorized") == ["awaiting_capture"]
    assert lesson_status(student, course) == 403
    assert deliver_all(client, razorpay_double) == ["captured", "unchanged"]
    assert lesson_status(student, course) == 200
    assert statuses(db) == {payment["id"]: "captured"} and revenue(admin) == 49900 and trail(db) == PAID


@pytest.mark.parametrize("razorpay_env", [{"RAZORPAY_WEBHOOK_SECRET": "the-new-secret",
                                           "RAZORPAY_WEBHOOK_SECRETS": "double-webhook-secret-T7x"}])
def test_after_a_secret_rotation_earlier_events_and_new_ones_are_accepted(signed_in, db, client, admin,
                                                                          razorpay_double):
    student, course, order, _ = checkout(signed_in, db)
    payment = razorpay_double.pay(order["id"])
    earlier = razorpay_double.deliveries()  # signed with the earlier secret; Razorpay retries them
    razorpay_double.webhook_secret = "the-new-secret"
    razorpay_double.refund(payment["id"], 9900)
    later = razorpay_double.deliveries()
    assert [deliver(client, d) for d in earlier] == ["capture_queued", "captured", "unchanged"]
    assert [deliver(client, d) for d in later] == ["refund_pending", "partially_refunded"]
    razorpay_double.webhook_secret = "a-secret-nobody-configured"
    razorpay_double.refund(payment["id"])
    assert [deliver(client, d, status=400) for d in razorpay_double.deliveries()] == ["invalid_signature"] * 2
    assert lesson_status(student, course) == 200 and revenue(admin) == 40000
    assert statuses(db) == {payment["id"]: "partially_refunded"}
    assert trail(db) == [*PAID, "payment.refund_pending", "payment.partially_refunded"]


def test_a_refund_whose_webhooks_never_came_is_found_by_reconciliation(signed_in, db, client, admin, runtime,
                                                                       razorpay_double):
    student, course, order, _ = checkout(signed_in, db)
    payment = razorpay_double.pay(order["id"])
    deliver_all(client, razorpay_double)
    razorpay_double.refund(payment["id"])
    razorpay_double.deliveries()  # lost: the endpoint was down for longer than Razorpay retries
    assert reconcile.reconcile(db, runtime.razorpay) == 0  # not due yet: an hour after the capture
    db.payments.update_one({}, {"$set": {"nextCheckAt": now() - timedelta(seconds=1)}})
    assert reconcile.reconcile(db, runtime.razorpay) == 1
    assert razorpay_double.calls[-1] == ("GET", f"/v1/payments/{payment['id']}/refunds")
    assert lesson_status(student, course) == 403
    assert statuses(db) == {payment["id"]: "refunded"} and revenue(admin) == 0
    assert trail(db) == [*PAID, "payment.refunded", "enrollment.refund"]
    assert db.auditLogs.find_one({"action": "payment.refunded"})["details"]["via"] == "reconcile"
    later = db.payments.find_one()["nextCheckAt"] - now()
    assert timedelta(hours=1, minutes=59) < later <= timedelta(hours=2)  # the next check, doubled


def test_a_lost_dispute_whose_webhooks_never_came_is_found_by_reconciliation(signed_in, db, client, admin, runtime,
                                                                             razorpay_double):
    student, course, order, _ = checkout(signed_in, db)
    payment = razorpay_double.pay(order["id"])
    deliver_all(client, razorpay_double)
    razorpay_double.resolve(razorpay_double.dispute(payment["id"])["id"], "lost")
    razorpay_double.deliveries()  # lost
    assert reconcile.disputes(db, runtime.razorpay) == 1
    assert lesson_status(student, course) == 403 and statuses(db) == {payment["id"]: "refunded"}
    assert revenue(admin) == 0 and trail(db) == [*PAID, "payment.dispute_lost", "enrollment.refund"]
    assert reconcile.disputes(db, runtime.razorpay) == 1 and trail(db)[-1] == "enrollment.refund"  # once


def test_600_junk_deliveries_do_not_hold_up_a_valid_one(signed_in, db, client, admin, razorpay_double):
    student, course, order, _ = checkout(signed_in, db)
    razorpay_double.pay(order["id"])
    valid = razorpay_double.deliveries("payment.captured")[0]
    junk = (b'{"event": "payment.captured"}', {"Content-Type": "application/json", "X-Razorpay-Signature": "0" * 64})
    for _ in range(600):
        assert deliver(client, junk, status=400) == "invalid_signature"
    assert deliver(client, junk, status=429) == "rate_limited"  # the junk's own address is throttled ...
    assert deliver(client, valid) == "captured"  # ... never a delivery that is signed
    assert lesson_status(student, course) == 200 and revenue(admin) == 49900
    assert trail(db) == ["payment.authorized", "payment.captured", "enrollment.activate"]
    assert db.auditLogs.count_documents({"action": {"$regex": "webhook"}}) == 0  # junk leaves no entries ...
    counted = admin.get("/api/admin/payments").json["rejectedSignatures"]["webhook"]  # ... only a count
    assert (counted["today"], counted["lastDays"]) == (601, 601)
    assert client.post(WEBHOOK, junk[0], headers=junk[1], status=429).headers["Retry-After"]
