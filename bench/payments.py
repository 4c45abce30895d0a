"""Razorpay's webhook against a real service (``python lms.py serve``, in-process worker), with
the loopback Razorpay double of the tests playing Razorpay.

    .venv/bin/python bench/payments.py [--payments 40]

1. ``payment.captured`` (the account captures by itself): the webhook's answer, which records the
   payment, activates the enrollment and queues the receipt.
2. ``payment.authorized`` (manual capture): the webhook's answer, which only queues the capture,
   and the time until the worker has captured the payment at Razorpay and the enrollment is active.
3. A delivery with a bad signature: the answer, which counts it and nothing else.
"""
import argparse
import time

import pymongo

from common import Stack, summary
from support.doubles.razorpay import RazorpayDouble
from support.factories import create_course, create_user
from support.live import call
from support.payments import ENROLL, WEBHOOK, post_raw


def timed_delivery(url, delivery):
    started = time.perf_counter()
    status, body = post_raw(url + WEBHOOK, *delivery)
    assert status == 200, body
    return (time.perf_counter() - started) * 1000, body["outcome"]


def orders(stack, db, auth, n):
    """A student at Checkout of ``n`` new courses: the Razorpay order ids."""
    found = []
    for _ in range(n):
        course = create_course(db)
        status, body, _ = call("POST", stack.url + ENROLL, {"courseId": course["_id"], "paymentMode": "razorpay"}, auth)
        assert status == 200, body
        found.append(body["order"]["id"])
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--payments", type=int, default=40)
    args = parser.parse_args()
    with RazorpayDouble() as double, Stack(LMS_WORKER="1", **double.env) as stack:
        client = pymongo.MongoClient(stack.db.uri.replace("/?", "/lms_bench?"), tz_aware=True)
        db = client.get_default_database()
        auth = stack.service.sign_in(create_user(db))  # one student: sign-ins are rate-limited per address

        captured = []
        for order_id in orders(stack, db, auth, args.payments):
            double.pay(order_id)
            [delivery] = double.deliveries("payment.captured")
            double.deliveries()
            ms, outcome = timed_delivery(stack.url, delivery)
            assert outcome == "captured", outcome
            captured.append(ms)

        double.auto_capture = False
        answered, activated = [], []
        for order_id in orders(stack, db, auth, args.payments):
            payment = double.pay(order_id)
            [delivery] = double.deliveries("payment.authorized")
            started = time.perf_counter()
            ms, outcome = timed_delivery(stack.url, delivery)
            assert outcome == "capture_queued", outcome
            answered.append(ms)
            row = db.payments.find_one({"providerPaymentId": payment["id"]})
            while db.enrollments.find_one({"_id": row["enrollmentId"]})["status"] != "active":
                time.sleep(0.002)
            activated.append((time.perf_counter() - started) * 1000)
            double.deliveries()

        junk = (b'{"event": "payment.captured"}', {"Content-Type": "application/json",
                                                    "X-Razorpay-Signature": "0" * 64})
        rejected = []
        for _ in range(args.payments):
            started = time.perf_counter()
            status, _ = post_raw(stack.url + WEBHOOK, *junk)
            assert status == 400
            rejected.append((time.perf_counter() - started) * 1000)
        client.close()

    print(f"{args.payments} payments each; ms per delivery (a new connection each), p50 / p95 / max")
    for name, samples in (("payment.captured: recorded, access granted", captured),
                          ("payment.authorized: answered (capture queued)", answered),
                          ("payment.authorized -> captured and active", activated),
                          ("bad signature: counted, 400", rejected)):
        stats = summary(samples)
        print(f"  {name:46} {stats['p50']:8.1f} {stats['p95']:8.1f} {stats['max']:8.1f}")


if __name__ == "__main__":
    main()
