"""The admins' view of money: the list of payments with its filters and CSV export, one payment
with its whole history, and refunds made from it (through Razorpay's API, or locally for a
simulated payment), each failure a clear error that changes nothing."""
import codecs
import csv
import io

import pytest

from lms.payments import rejected
from support.factories import checkout, create_course, enroll
from support.payments import PAYMENTS, VERIFY, deliver_all, lesson_status, revenue, state, trail


def paid(signed_in, db, client, double, **course):
    """A student who paid a new course through Razorpay: (student, course, payment entity)."""
    student, course, order, _ = checkout(signed_in, db, **course)
    payment = double.pay(order["id"])
    deliver_all(client, double)
    return student, course, payment


def row_of(db, payment):
    return db.payments.find_one({"providerPaymentId": payment["id"]})


def test_the_list_names_student_and_course_and_filters(signed_in, db, client, admin, razorpay_double):
    asha, python, first = paid(signed_in, db, client, razorpay_double, title="Python")
    ravi, ml, failed_order, _ = checkout(signed_in, db, title="ML")
    failed = razorpay_double.pay(failed_order["id"], status="failed", method="card")
    deliver_all(client, razorpay_double)
    meena = signed_in()
    enroll(meena, create_course(db, title="Cloud", price=1999, currency="USD"), status=201)  # simulated
    listing = admin.get(PAYMENTS).json
    assert (listing["total"], [p["status"] for p in listing["items"]]) == (3, ["captured", "failed", "captured"])
    simulated, failure, capture = listing["items"]
    assert (capture["providerPaymentId"], capture["user"]["email"], capture["course"]["title"]) == (
        first["id"], asha.user["email"], "Python")
    assert (failure["method"], simulated["provider"]) == ("card", "simulated")
    assert listing["rejectedSignatures"]["webhook"] == {"today": 0, "lastDays": 0, "lastAt": None}
    ids = lambda **q: [p["id"] for p in admin.get(PAYMENTS, q).json["items"]]
    assert ids(status="failed") == [failure["id"]] and ids(provider="simulated") == [simulated["id"]]
    assert ids(method="upi") == [capture["id"]] and ids(userId=ravi.user["_id"]) == [failure["id"]]
    assert ids(courseId=python["_id"]) == [capture["id"]] and ids(sort="oldest")[0] == capture["id"]
    assert ids(**{"from": "2000-01-01", "to": "2000-01-02"}) == [] and ids(flagged="true") == []
    assert set(admin.get(PAYMENTS, {"status": "paid"}, status=400).json["error"]["fields"]) == {"status"}
    assert failed["id"] == failure["providerPaymentId"] and ml["title"] == "ML"


def test_duplicates_and_open_disputes_are_flagged(signed_in, db, client, admin, razorpay_double):
    _, _, order, _ = checkout(signed_in, db)
    razorpay_double.pay(order["id"])
    second = razorpay_double.pay(order["id"])  # a duplicate, refunded by Razorpay
    _, _, disputed = paid(signed_in, db, client, razorpay_double)
    razorpay_double.dispute(disputed["id"])
    deliver_all(client, razorpay_double)
    flagged = admin.get(PAYMENTS, {"flagged": "true"}).json["items"]
    assert sorted(p["providerPaymentId"] for p in flagged) == sorted([second["id"], disputed["id"]])
    by_id = {p["providerPaymentId"]: p for p in flagged}
    assert by_id[second["id"]]["duplicate"] and by_id[disputed["id"]]["disputed"]


def test_the_list_as_csv_has_every_row_and_the_export_is_audited(signed_in, db, client, admin, razorpay_double):
    _, _, payment = paid(signed_in, db, client, razorpay_double, title="=cmd|' /C calc'!A0")
    response = admin.get(PAYMENTS, {"format": "csv", "limit": 1})
    assert response.content_type == "text/csv" and response.body.startswith(codecs.BOM_UTF8)
    [line] = list(csv.DictReader(io.StringIO(response.body.decode("utf-8-sig"))))
    assert (line["providerPaymentId"], line["amount"], line["status"]) == (payment["id"], "49900", "captured")
    assert line["courseTitle"].startswith("'=")  # no formula for a spreadsheet to run
    assert db.auditLogs.find_one({"action": "report.export", "targetId": "payments"})["actorId"] == admin.user["_id"]


def test_one_payment_with_its_history_enrollment_and_order(signed_in, db, client, admin, razorpay_double):
    _, _, payment = paid(signed_in, db, client, razorpay_double)
    razorpay_double.refund(payment["id"], 9900)
    deliver_all(client, razorpay_double)
    row = row_of(db, payment)
    body = admin.get(f"{PAYMENTS}/{row['_id']}").json
    shown = body["payment"]
    assert [e["event"] for e in shown["history"]] == ["authorized", "captured", "refund.pending", "refund.processed"]
    assert shown["history"][-1]["details"]["amount"] == 9900 and shown["history"][-1]["via"] == "webhook:refund.processed"
    assert [(r["amount"], r["status"]) for r in shown["refunds"]] == [(9900, "processed")]
    assert (shown["status"], shown["amountRefunded"]) == ("partially_refunded", 9900)
    assert body["enrollment"]["paymentId"] == row["_id"] and body["order"]["id"] == row["orderId"]
    assert body["order"]["status"] == "paid" and "rawResponse" not in shown and "movements" not in shown
    assert admin.get(f"{PAYMENTS}/{'0' * 24}", status=404).json["error"]["code"] == "not_found"


def test_only_admins_see_money(signed_in, db):
    for role in ("student", "instructor"):
        assert signed_in(role).get(PAYMENTS, status=403).json["error"]["code"] == "forbidden"


def test_an_admin_refunds_part_then_the_rest_through_razorpay(signed_in, db, client, admin, razorpay_double):
    student, course, payment = paid(signed_in, db, client, razorpay_double)
    row = row_of(db, payment)
    body = admin.post_json(f"{PAYMENTS}/{row['_id']}/refund", {"amount": 10000, "reason": "Missed two weeks"}).json
    assert (body["payment"]["status"], body["payment"]["amountRefunded"]) == ("partially_refunded", 10000)
    assert razorpay_double.calls[-1] == ("POST", f"/v1/payments/{payment['id']}/refund")
    [refund] = razorpay_double.refunds.values()
    assert (refund["amount"], refund["notes"]) == (10000, {"reason": "Missed two weeks", "refundedBy": admin.user["_id"]})
    assert lesson_status(student, course) == 200 and revenue(admin) == 39900
    body = admin.post_json(f"{PAYMENTS}/{row['_id']}/refund", {"reason": "Left the course"}).json  # the rest
    assert (body["payment"]["status"], body["enrollment"]["status"]) == ("refunded", "refunded")
    assert lesson_status(student, course) == 403 and revenue(admin) == 0
    assert deliver_all(client, razorpay_double) == ["unchanged"] * 4  # Razorpay's webhooks of the same refunds
    assert trail(db)[3:] == ["payment.refund_requested", "payment.partially_refunded", "payment.refund_requested",
                             "payment.refunded", "enrollment.refund"]
    entry = db.auditLogs.find_one({"action": "payment.refund_requested"}, sort=[("_id", 1)])
    assert (entry["actorId"], entry["details"]["reason"], entry["details"]["refundAmount"]) == (
        admin.user["_id"], "Missed two weeks", 10000)
    again = admin.post_json(f"{PAYMENTS}/{row['_id']}/refund", {"reason": "Once more"}, status=409)
    assert again.json["error"]["code"] == "already_refunded"


def test_a_refund_over_what_is_left_is_400_and_changes_nothing(signed_in, db, client, admin, razorpay_double):
    _, _, payment = paid(signed_in, db, client, razorpay_double)
    row, before, calls = row_of(db, payment), state(db), len(razorpay_double.calls)
    response = admin.post_json(f"{PAYMENTS}/{row['_id']}/refund", {"amount": 50000, "reason": "Too much"}, status=400)
    assert response.json["error"]["fields"] == {"amount": "must be at most 49900, what is left of this payment"}
    assert admin.post_json(f"{PAYMENTS}/{row['_id']}/refund", {"amount": 100}, status=400).json["error"]["fields"]
    assert state(db) == before and len(razorpay_double.calls) == calls


def test_razorpay_refusing_or_down_is_502_and_the_payment_is_unchanged(signed_in, db, client, admin, razorpay_double):
    student, course, payment = paid(signed_in, db, client, razorpay_double)
    row, before = row_of(db, payment), state(db)
    razorpay_double.fail_next(1, status=503)
    response = admin.post_json(f"{PAYMENTS}/{row['_id']}/refund", {"reason": "Asked"}, status=502)
    assert response.json["error"]["code"] == "razorpay_unavailable"
    razorpay_double.fail_next(1, status=400)
    response = admin.post_json(f"{PAYMENTS}/{row['_id']}/refund", {"reason": "Asked"}, status=502)
    assert response.json["error"]["code"] == "razorpay_rejected"
    assert state(db) == before and lesson_status(student, course) == 200
    assert razorpay_double.refunds == {}


def test_a_simulated_payment_is_refunded_without_razorpay_and_a_free_one_not_at_all(signed_in, db, admin,
                                                                                   razorpay_double):
    student = signed_in()
    course, free = create_course(db), create_course(db, price=0)
    simulated_id = enroll(student, course, status=201)["paymentId"]
    free_id = enroll(student, free, status=201)["paymentId"]
    body = admin.post_json(f"{PAYMENTS}/{simulated_id}/refund", {"reason": "Testing refunds"}).json
    assert (body["payment"]["status"], body["enrollment"]["status"]) == ("refunded", "refunded")
    assert lesson_status(student, course) == 403 and razorpay_double.calls == []
    response = admin.post_json(f"{PAYMENTS}/{free_id}/refund", {"reason": "Nothing to refund"}, status=409)
    assert response.json["error"]["code"] == "not_refundable"


def test_an_authorised_payment_cannot_be_refunded(signed_in, db, client, admin, razorpay_double):
    razorpay_double.auto_capture = False
    _, _, order, _ = checkout(signed_in, db)
    razorpay_double.pay(order["id"])
    deliver_all(client, razorpay_double)
    row = db.payments.find_one()
    response = admin.post_json(f"{PAYMENTS}/{row['_id']}/refund", {"reason": "Not captured"}, status=409)
    assert response.json["error"]["code"] == "not_refundable"


@pytest.mark.parametrize("kind, post", [
    ("webhook", lambda client, double: client.post("/api/payments/webhook", b"{}",
                                                   headers={"X-Razorpay-Signature": "0" * 64}, status=400)),
    ("verify", lambda client, double: client.post_json(VERIFY, {
        "razorpay_order_id": "order_x", "razorpay_payment_id": "pay_x", "razorpay_signature": "0" * 64}, status=400)),
])
def test_rejected_signatures_are_counted_for_staff(signed_in, db, client, admin, razorpay_double, kind, post):
    sender = signed_in() if kind == "verify" else client
    for _ in range(3):
        post(sender, razorpay_double)
    counted = admin.get(PAYMENTS).json["rejectedSignatures"][kind]
    assert (counted["today"], counted["lastDays"]) == (3, 3) and counted["lastAt"].endswith("Z")
    assert rejected.totals(db)[kind]["today"] == 3
