"""How the staff reports scale: analytics and the paginated lists at 10k and 100k enrollments.

    .venv/bin/python bench/admin.py [--sizes 10000,100000] [--repeat 5]

The data set is ``bench/seed.py``'s (a steady ~300 enrollments a day, so 100k enrollments are
~11 months of history and the default analytics window, the last 30 days, holds about the same
number of events at both sizes), written straight into the service's database with
``insert_many``: the newest 10k first, then the older rest up to 100k.

For each staff list (students, enrollments, payments, users, certificates, the audit log,
submissions) it times the first page, a deep page by number (page 50 of 20) and the same deep
page by cursor (following ``nextCursor`` from the first page; "no nextCursor" where the answer
has none), then the analytics and a few filtered lists, and the worker's claim of a due certificate among
them all (``time_claims``); ms per request (p50 and max of
``--repeat``), and at the end each check's growth from the smallest to the largest size. A page
that costs the same at 10x the data grows ~1.0x; one that reads everything before it grows ~10x.
"""
import argparse
import random
import time
from datetime import timedelta

import pymongo

from common import Stack, call, summary, timed
from seed import generate, load, take, finish
from support import factories as data
from support.live import cookies_from
from lms.certificates import issuing
from lms.db import new_id, now

ADMIN = {"email": "bench-admin@example.com", "password": "bench-admin-password"}
LISTS = {"students": "/api/admin/students", "enrollments": "/api/admin/enrollments",
         "payments": "/api/admin/payments", "users": "/api/admin/users",
         "certificates": "/api/admin/certificates", "audit log": "/api/admin/logs",
         "submissions": "/api/admin/submissions"}
DEEP_PAGE, LIMIT = 50, 20


def sign_in(url):
    """Cookies of a fresh session (access tokens last 15 minutes; a run takes longer)."""
    _, _, headers = call("POST", url + "/api/auth/login", ADMIN)
    return "; ".join(f"{k}={v}" for k, v in cookies_from(headers).items())


def deep_cursor(url, path, headers):
    """The ``nextCursor`` that leads to page ``DEEP_PAGE``, following it from page 1; None when
    the list answers none (no keyset pagination) or ends before."""
    cursor = None
    for _ in range(DEEP_PAGE - 1):
        query = f"?limit={LIMIT}" + (f"&cursor={cursor}" if cursor else "")
        status, body, _ = call("GET", url + path + query, headers=headers, timeout=300)
        cursor = body.get("nextCursor") if status == 200 else None
        if not cursor:
            return None
    return cursor


def checks(url, headers, course_id):
    """name -> path (or None: skipped) of every timed request."""
    year_ago = (data.midnight(-365)).date().isoformat()
    month_ago = (data.midnight(-30)).date().isoformat()
    found = {"analytics, last 30 days (default)": "/api/admin/analytics",
             "analytics, last 366 days": f"/api/admin/analytics?from={year_ago}"}
    for name, path in LISTS.items():
        found[f"{name}, page 1"] = f"{path}?limit={LIMIT}"
        found[f"{name}, page {DEEP_PAGE} by number"] = f"{path}?page={DEEP_PAGE}&limit={LIMIT}"
        cursor = deep_cursor(url, path, headers)
        found[f"{name}, page {DEEP_PAGE} by cursor"] = cursor and f"{path}?limit={LIMIT}&cursor={cursor}"
    found.update({
        "students, search q": "/api/admin/students?q=student%2012",
        "enrollments, one course": f"/api/admin/enrollments?courseId={course_id}",
        "enrollments, refunded in a month": f"/api/admin/enrollments?status=refunded&from={month_ago}",
        "payments, refunded in a month": f"/api/admin/payments?status=refunded&from={month_ago}",
    })
    return found


def time_checks(url, repeat, course_id):
    """name -> summary of ms per request (with "failed": the error codes seen, or "skipped")."""
    headers = {"Cookie": sign_in(url)}
    results, timed_paths = {}, checks(url, headers, course_id)
    # Steady state: one untimed round first, then a pause for the background work it starts
    # (each list's first visit estimates its collection's size, ~0.5 s of the embedded
    # server's time at 100k rows, refreshed every few minutes after that).
    for path in filter(None, timed_paths.values()):
        call("GET", url + path, headers=headers, timeout=300)
    time.sleep(3)
    for name, path in timed_paths.items():
        if path is None:
            results[name] = {"p50": None, "max": None, "failed": "skipped: no nextCursor"}
            continue
        samples, failures = [], set()
        for _ in range(repeat):
            def get():
                status, body, _ = call("GET", url + path, headers=headers, timeout=300)
                if status != 200:
                    failures.add(f"{status} {body['error']['code']}")
            samples.append(timed(get))
        results[name] = {**summary(samples), "failed": ", ".join(sorted(failures))}
    return results


def time_claims(db, repeat):
    """The worker's claim of a due certificate (with its course's batch, ``claim_together``)
    among all the certificates there are, by this process on the service's database (whose own
    worker is off): one due copy of a stored certificate is queued, claimed and removed each time.
    The seed's pending certificates are made to wait first: a due backlog is the worker's to
    drain, and the embedded server reads all of it for a claim (see ``lms.worker.queue``)."""
    db.certificates.update_many({"status": "pending"}, {"$set": {"nextAttemptAt": now() + timedelta(days=30)}})
    model = db.certificates.find_one({"status": "active"})
    samples = []
    for i in range(repeat):
        cert = {**model, "_id": new_id(), "certId": f"BENCH-CLAIM-{i}", "userId": new_id(),
                "status": "pending", "attempts": 0, "nextAttemptAt": now()}
        db.certificates.insert_one(cert)
        samples.append(timed(lambda: issuing.claim_together(db, "bench-worker")))
        db.certificates.delete_one({"_id": cert["_id"]})
    return {"worker: claim a due certificate": {**summary(samples), "failed": ""}}


def measure(sizes=(10_000, 100_000), repeat=5, report=None):
    """{size: {check: summary}}; ``report(size, counts, results)`` is called after each size."""
    rows = generate(max(sizes), random.Random(7))
    env = {"LMS_BOOTSTRAP_ADMIN_EMAIL": ADMIN["email"], "LMS_BOOTSTRAP_ADMIN_PASSWORD": ADMIN["password"],
           "LMS_BCRYPT_ROUNDS": "4"}
    found = {}
    with Stack(**env) as stack:
        client = pymongo.MongoClient(stack.db.uri, tz_aware=True)
        db = client.lms_bench
        loaded = 0
        for size in sorted(sizes):
            load(db, take(rows, size - loaded))
            finish(db)
            loaded = size
            found[size] = {**time_checks(stack.url, repeat, db.courses.find_one()["_id"]), **time_claims(db, repeat)}
            if report:
                counts = {name: db[name].estimated_document_count() for name in
                          ("users", "payments", "certificates", "submissions", "auditLogs")}
                report(size, counts, found[size])
        client.close()
    return found


def growth(results):
    """check -> p50 at the largest size / p50 at the smallest (None where either is missing)."""
    small, large = results[min(results)], results[max(results)]
    return {name: (large[name]["p50"] / small[name]["p50"] if large[name]["p50"] and small[name]["p50"] else None)
            for name in large}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    def report(size, counts, results):
        print(f"\n== {size:,} enrollments (" + ", ".join(f"{n:,} {name}" for name, n in counts.items())
              + f"): ms per request (p50 / max of {args.repeat})")
        for name, stats in results.items():
            p50, top = ("", "") if stats["p50"] is None else (f"{stats['p50']:9.1f}", f"{stats['max']:9.1f}")
            print(f"   {name:38} {p50:>9} {top:>9}  {stats['failed']}")
    results = measure([int(s) for s in args.sizes.split(",")], args.repeat, report)
    if len(results) > 1:
        print(f"\n== growth of p50, {max(results):,} / {min(results):,} enrollments")
        for name, ratio in growth(results).items():
            print(f"   {name:38} {'' if ratio is None else f'{ratio:6.1f}x'}")


if __name__ == "__main__":
    main()
