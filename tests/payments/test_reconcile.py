"""Reconciliation: the worker asks Razorpay about what webhooks may have missed (open orders'
payments, recently captured payments' refunds, recent disputes), on a schedule that backs off,
bounded per run, stopping when Razorpay is down."""
from datetime import timedelta

from lms.db import now
from lms.payments import ledger, orders, reconcile as reconciliation
from lms.payments.checks import LEASE
from support.factories import checkout
from support.payments import deliver_all, lesson_status, run_captures, trail


def checks_are_due(db, collection="orders"):
    db[collection].update_many({"nextCheckAt": {"$ne": None}}, {"$set": {"nextCheckAt": now() - timedelta(seconds=1)}})


def test_reconciliation_waits_fifteen_minutes(signed_in, db, runtime, razorpay_double):
    checkout(signed_in, db)
    assert reconciliation.reconcile(db, runtime.razorpay) == 0
    assert razorpay_double.calls == [("POST", "/v1/orders")]


def test_reconciliation_applies_payments_the_webhook_never_delivered(signed_in, db, runtime, razorpay_double):
    student, course, order, _ = checkout(signed_in, db)
    failed = razorpay_double.pay(order["id"], status="failed")
    paid = razorpay_double.pay(order["id"])  # the second attempt succeeded; no webhook arrived
    razorpay_double.deliveries()
    checks_are_due(db)
    assert reconciliation.reconcile(db, runtime.razorpay) == 1
    rows = {p["providerPaymentId"]: p for p in db.payments.find()}
    assert (rows[failed["id"]]["status"], rows[paid["id"]]["status"]) == ("failed", "captured")
    assert db.orders.find_one()["status"] == "paid" and db.orders.find_one()["nextCheckAt"] is None
    assert db.auditLogs.find_one({"action": "payment.captured"})["details"]["via"] == "reconcile"
    assert lesson_status(student, course) == 200
    assert reconciliation.reconcile(db, runtime.razorpay) == 0  # paid orders are not checked again
    assert razorpay_double.calls.count(("GET", f"/v1/orders/{order['id']}/payments")) == 1


def test_an_authorised_payment_found_by_reconciliation_is_captured(signed_in, db, runtime, razorpay_double):
    razorpay_double.auto_capture = False
    student, course, order, _ = checkout(signed_in, db)
    razorpay_double.pay(order["id"])
    razorpay_double.deliveries()  # lost
    checks_are_due(db)
    assert reconciliation.reconcile(db, runtime.razorpay) == 1 and lesson_status(student, course) == 403
    assert run_captures(runtime) == 1 and lesson_status(student, course) == 200


def test_reconciliation_of_an_unpaid_order_backs_off_then_stops(signed_in, db, runtime, razorpay_double):
    checkout(signed_in, db)
    intervals = []
    for _ in range(orders.CHECKS.max_checks):
        checks_are_due(db)
        started = now()
        assert reconciliation.reconcile(db, runtime.razorpay) == 1
        doc = db.orders.find_one()
        intervals.append(doc["nextCheckAt"] and round((doc["nextCheckAt"] - started).total_seconds() / 60))
    assert intervals == [30, 60, 120, 240, 360, 360, 360, 360, 360, None]
    assert (doc["status"], doc["checks"], db.enrollments.find_one()["status"]) == ("open", 10, "pending")


def test_an_order_that_was_paid_and_refunded_unseen_ends_refunded(signed_in, db, runtime, razorpay_double):
    student, course, order, _ = checkout(signed_in, db)
    razorpay_double.refund(razorpay_double.pay(order["id"])["id"])
    razorpay_double.deliveries()
    checks_are_due(db)
    reconciliation.reconcile(db, runtime.razorpay)
    assert (db.payments.find_one()["status"], db.enrollments.find_one()["status"]) == ("refunded", "refunded")
    assert lesson_status(student, course) == 403


def test_captured_payments_are_checked_for_refunds_for_the_configured_days(signed_in, db, client, runtime,
                                                                           razorpay_double):
    _, _, order, _ = checkout(signed_in, db)
    payment = razorpay_double.pay(order["id"])
    deliver_all(client, razorpay_double)
    intervals = []
    for _ in range(8):
        checks_are_due(db, "payments")
        started = now()
        assert reconciliation.reconcile(db, runtime.razorpay) == 1
        intervals.append(round((db.payments.find_one()["nextCheckAt"] - started).total_seconds() / 3600))
    assert intervals == [2, 4, 8, 16, 32, 64, 72, 72]  # hours: doubling, then every three days
    db.payments.update_one({}, {"$set": {"capturedAt": now() - timedelta(days=31)}})
    checks_are_due(db, "payments")
    assert reconciliation.reconcile(db, runtime.razorpay) == 0  # past RAZORPAY_RECONCILE_DAYS: webhooks alone
    assert razorpay_double.calls.count(("GET", f"/v1/payments/{payment['id']}/refunds")) == 8


def test_reconciliation_stops_when_razorpay_is_down_and_retries_a_minute_later(signed_in, db, runtime,
                                                                               razorpay_double):
    for _ in range(3):
        checkout(signed_in, db)
    checks_are_due(db)
    razorpay_double.fail_next(1, status=503)
    assert reconciliation.reconcile(db, runtime.razorpay) == 0
    assert len(razorpay_double.calls) == 4  # three orders, then one check that failed: the run stopped
    retry = sorted(doc["nextCheckAt"] - now() for doc in db.orders.find())
    assert retry[0] < timedelta(0) and retry[1] < timedelta(0)  # the two not reached are still due
    assert timedelta(0) < retry[2] <= LEASE
    assert [doc["checks"] for doc in db.orders.find()] == [0, 0, 0]
    checks_are_due(db)
    assert reconciliation.reconcile(db, runtime.razorpay) == 3


def test_reconciliation_does_nothing_without_razorpay(db, razorpay_double):
    assert reconciliation.reconcile(db, None) == 0 and reconciliation.disputes(db, None) == 0
    assert razorpay_double.calls == []


def test_an_order_razorpay_does_not_know_backs_off_without_holding_up_the_others(signed_in, db, runtime,
                                                                                   razorpay_double):
    _, _, lost, _ = checkout(signed_in, db)
    _, _, order, _ = checkout(signed_in, db)
    del razorpay_double.orders[lost["id"]]  # say, created under other keys
    razorpay_double.pay(order["id"])
    checks_are_due(db)
    assert reconciliation.reconcile(db, runtime.razorpay) == 2
    unknown, paid = db.orders.find_one({"orderId": lost["id"]}), db.orders.find_one({"orderId": order["id"]})
    assert (unknown["status"], unknown["checks"], paid["status"]) == ("open", 1, "paid")
    assert unknown["nextCheckAt"] - now() > timedelta(minutes=25)


def test_disputes_of_other_integrations_are_left_alone_and_pages_are_bounded(signed_in, db, client, runtime,
                                                                            razorpay_double):
    _, _, order, _ = checkout(signed_in, db)
    payment = razorpay_double.pay(order["id"])
    deliver_all(client, razorpay_double)
    ours = razorpay_double.dispute(payment["id"])
    for n in range(150):  # newer disputes on payments that are not ours (another shop on the account)
        other = f"disp_Other{n:010d}"
        razorpay_double.disputes[other] = {**ours, "id": other, "payment_id": f"pay_Other{n:010d}",
                                           "created_at": ours["created_at"] + 1 + n}
    razorpay_double.deliveries()
    assert reconciliation.disputes(db, runtime.razorpay, pages=1) == 0  # ours is on the second page
    assert [c for c in razorpay_double.calls if c[1] == "/v1/disputes"] == [("GET", "/v1/disputes")]
    assert reconciliation.disputes(db, runtime.razorpay) == 1
    assert db.payments.find_one()["status"] == "disputed" and trail(db)[-1] == "payment.disputed"
    assert ledger.standing(db, db.enrollments.find_one()["_id"])  # an open dispute keeps access
