"""The certificate pipeline against a real service with its in-process worker.

    .venv/bin/python bench/certificates.py [--batch 40] [--students 10]

1. Time from the HTTP request that completes a course's last lesson to the certificate being
   ``active`` (rendered by wkhtmltopdf, stored, hashed), one student after another.
2. Freshness of the public answer: polling ``GET /api/certificates/:certId`` every 5 ms while the
   in-process worker renders, the delay from the worker's activation (its ``certificate.issue``
   audit entry, written right after the record turns active) to the first public answer saying
   ``active``; the goal is under one second.
3. Certificates per minute with LMS_WORKER_CONCURRENCY=1 and =2: a batch of pending
   certificates is queued and rendered, while /api/health is sampled to show that renders do
   not stall HTTP; and, as the yardstick, raw wkhtmltopdf renders of the same page.
"""
import argparse
import threading
import time

import pymongo

from common import Stack, call, summary
from support.factories import PASSWORD, create_course, create_user
from lms.certificates import records as certificates
from lms.audit import SYSTEM


def database(stack):
    client = pymongo.MongoClient(stack.db.uri.replace("/?", "/lms_bench?"), tz_aware=True)
    return client, client.get_default_database()


def wait_active(db, query, count, timeout=600):
    deadline = time.monotonic() + timeout
    while db.certificates.count_documents({**query, "status": "active"}) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out: {db.certificates.count_documents({'status': 'active'})} active")
        time.sleep(0.01)


def complete_course(stack, db, course):
    """A new student finishes ``course`` over HTTP; (the certId, when the last request was sent)."""
    user = create_user(db)
    _, _, headers = call("POST", stack.url + "/api/auth/login", {"email": user["email"], "password": PASSWORD})
    cookies = dict(c.split(";", 1)[0].split("=", 1) for c in headers.get_all("Set-Cookie"))
    auth = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items() if k != "refresh_token"),
            "X-XSRF-TOKEN": cookies["XSRF-TOKEN"]}
    call("POST", stack.url + "/api/enroll", {"courseId": course["_id"]}, auth)
    lesson = {"courseId": course["_id"], "moduleId": "m1"}
    call("POST", stack.url + "/api/progress/complete-lesson", {**lesson, "lessonId": "intro"}, auth)
    started = time.perf_counter()
    _, body, _ = call("POST", stack.url + "/api/progress/complete-lesson", {**lesson, "lessonId": "setup"}, auth)
    return body["certId"], started


def last_lesson_to_active(students):
    samples = []
    with Stack(LMS_WORKER="1") as stack:
        client, db = database(stack)
        course = create_course(db, price=0)
        for _ in range(students):
            cert_id, started = complete_course(stack, db, course)
            wait_active(db, {"certId": cert_id}, 1)
            samples.append((time.perf_counter() - started) * 1000)
        client.close()
    return samples


def activation_to_public_answer(students):
    """Milliseconds from the worker's activation to the first public answer saying active."""
    lags, polls = [], 0
    # Each poll names another client address (a proxy's header, trusted here) so that the
    # per-IP lookup limit, which a pending answer counts against, does not cut the polling short.
    with Stack(LMS_WORKER="1", LMS_TRUST_PROXY="1") as stack:
        client, db = database(stack)
        course = create_course(db, price=0)
        for _ in range(students):
            cert_id, _ = complete_course(stack, db, course)
            while True:
                polls += 1
                address = {"X-Forwarded-For": f"198.18.{polls // 250 % 250}.{polls % 250 + 1}"}
                _, body, _ = call("GET", f"{stack.url}/api/certificates/{cert_id}", headers=address)
                if body["status"] == "active":
                    seen = time.time()
                    break
                time.sleep(0.005)
            entry = None
            while entry is None:  # written a few ms after the activation: the answer may be quicker
                entry = db.auditLogs.find_one({"action": "certificate.issue", "targetId": cert_id})
            issued = entry["timestamp"]
            lags.append(max(0.0, (seen - issued.timestamp()) * 1000))
        client.close()
    return lags


def throughput(concurrency, batch):
    """Certificates per minute between the first and the last render of a batch (the steady
    rate, whatever the worker's first tick costs), and /api/health latencies meanwhile."""
    with Stack(LMS_WORKER="1", LMS_WORKER_CONCURRENCY=str(concurrency)) as stack:
        client, db = database(stack)
        course = create_course(db, price=0)
        students = [create_user(db) for _ in range(batch)]
        health, done = [], threading.Event()

        def sample_health():
            while not done.is_set():
                started = time.perf_counter()
                call("GET", stack.url + "/api/health")
                health.append((time.perf_counter() - started) * 1000)
                time.sleep(0.05)
        sampler = threading.Thread(target=sample_health)
        sampler.start()
        for student in students:
            certificates.create_once(db, student, course, prefix="CERT", actor=SYSTEM)
        wait_active(db, {}, batch)
        done.set()
        sampler.join()
        rendered = sorted(c["renderedAt"] for c in db.certificates.find({}, {"renderedAt": 1}))
        client.close()
    seconds = (rendered[-1] - rendered[0]).total_seconds()
    return (batch - 1) / seconds * 60, seconds, health


def raw_renders(concurrency, batch):
    """Renders per minute of the same certificate page by wkhtmltopdf alone (``concurrency`` at a
    time): the ceiling the pipeline (claim, store, hash, mail, notify) is measured against."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import datetime, timezone

    from lms.adapters.wkhtmltopdf import Wkhtmltopdf
    from lms.certificates.pdf import render_html
    renderer = Wkhtmltopdf()
    page = render_html(student_name="Amit Kumar", course_title="MERN Bootcamp",
                       issued_at=datetime.now(timezone.utc), cert_id="CERT-7K3M9QXH2P",
                       verify_url="http://localhost:8080/verify/CERT-7K3M9QXH2P")
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: renderer.render(page), range(batch)))
    return batch / (time.perf_counter() - started) * 60


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=40)
    parser.add_argument("--students", type=int, default=10)
    args = parser.parse_args()
    print("last lesson -> certificate active, ms:", summary(last_lesson_to_active(args.students)))
    print("worker activates -> public API says active, ms:", summary(activation_to_public_answer(args.students)))
    for concurrency in (1, 2):
        per_minute, seconds, health = throughput(concurrency, args.batch)
        raw = raw_renders(concurrency, args.batch)
        print(f"LMS_WORKER_CONCURRENCY={concurrency}: {args.batch} certificates rendered within {seconds:.1f}s "
              f"= {per_minute:.0f}/min ({per_minute / raw:.0%} of {raw:.0f}/min raw wkhtmltopdf renders "
              f"of the same page, {concurrency} at a time); /api/health meanwhile, ms: {summary(health)}")


if __name__ == "__main__":
    main()
