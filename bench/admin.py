"""How the staff reports scale: analytics and the paginated lists at 10k and 100k enrollments.

    .venv/bin/python bench/admin.py [--sizes 10000,100000] [--repeat 5]

The data grows the way a platform does: a steady ~300 enrollments a day, so 100k enrollments
are ~11 months of history and the default analytics window (the last 30 days) holds about the
same number of events at both sizes. Each size is timed twice: with the indexes of
``lms/db.py`` alone, and after adding ``PROPOSED`` (the indexes the reports' time fields need).
Documents are written straight into the service's database with ``insert_many``, in the
shapes the services write them (``tests/support/factories.py``), past the analytics' day
counters, so ``stats.rebuild`` recounts them after each load, as ``lms.py rebuild-stats`` would.

What it shows on the embedded server (SecantusDB): with the time-field indexes the analytics
of a fixed window cost about the same at 10x the data, because a range ``$match`` on an
indexed field reads only the matching documents. The unfiltered list pages grow with the
data there: that server reads every matching index entry for a sort with a limit, and counts
by reading documents, where MongoDB stops an index scan at the page and counts index keys.
"""
import argparse
import random
import time
from datetime import timedelta

import pymongo
from pymongo import ASCENDING as ASC, DESCENDING as DESC, IndexModel

from common import Stack, call, summary, timed
from lms.reports import stats as day_counters
from support import factories as data
from support.live import cookies_from

PER_DAY = 300
COURSES = 60
ENROLLMENTS_PER_STUDENT = 4
BATCH = 5000
ADMIN = {"email": "bench-admin@example.com", "password": "bench-admin-password"}
PROPOSED = {
    "enrollments": [IndexModel([("completedAt", ASC)]),
                    IndexModel([("courseId", ASC), ("enrolledAt", DESC), ("_id", DESC)])],
}


def generate(total, rng):
    """``total`` enrollments, newest first, with their students, payments and certificates."""
    now = data.midnight(1)
    courses = [{"_id": data.new_id(), "title": f"Course {n}", "slug": f"course-{n}",
                "price": rng.choice([0, 49900, 99900, 1999]), "status": "published"} for n in range(COURSES)]
    for course in courses:
        course["currency"] = "USD" if course["price"] == 1999 else "INR"
    students = [data.student(n, at=now - timedelta(days=n * ENROLLMENTS_PER_STUDENT / PER_DAY))
                for n in range(total // ENROLLMENTS_PER_STUDENT + 1)]
    for n in range(total):
        at = now - timedelta(seconds=n * 86400 / PER_DAY + rng.random())
        if n % ENROLLMENTS_PER_STUDENT == 0:  # one enrollment per (student, course): a unique index
            picks = rng.sample(courses, ENROLLMENTS_PER_STUDENT)
        user, course = students[n // ENROLLMENTS_PER_STUDENT], picks[n % ENROLLMENTS_PER_STUDENT]
        status = rng.choices(["active", "pending", "cancelled", "refunded"], [85, 5, 5, 5])[0]
        completed = at + timedelta(days=rng.randint(1, 40)) if status == "active" and rng.random() < 0.3 else None
        completed = completed if completed and completed < now else None
        enrollment = data.enrollment(user["_id"], course["_id"], status=status, at=at, completed=completed)
        payment = None
        if course["price"] and status != "pending":
            paid = {"active": "captured", "cancelled": "failed", "refunded": "refunded"}[status]
            payment = data.payment(user["_id"], course["_id"], enrollment["_id"], amount=course["price"],
                                   currency=course["currency"], status=paid, at=at,
                                   refunded=at + timedelta(days=rng.randint(1, 10)))
            enrollment["paymentId"] = payment["_id"]
        cert = (data.certificate(user["_id"], course["_id"], status=rng.choice(["active"] * 8 + ["pending", "revoked"]),
                                 at=completed) if completed else None)
        yield (students[n // ENROLLMENTS_PER_STUDENT] if n % ENROLLMENTS_PER_STUDENT == 0 else None,
               enrollment, payment, cert, courses if n == 0 else None)


def load(db, rows):
    """Insert the generated documents in batches; returns documents written per second."""
    buffers = {"users": [], "enrollments": [], "payments": [], "certificates": [], "courses": []}
    written, started = 0, time.perf_counter()

    def flush(force=False):
        nonlocal written
        for name, docs in buffers.items():
            if docs and (force or len(docs) >= BATCH):
                db[name].insert_many(docs, ordered=False)
                written += len(docs)
                docs.clear()
    for user, enrollment, payment, cert, courses in rows:
        for name, doc in (("users", user), ("enrollments", enrollment), ("payments", payment),
                          ("certificates", cert)):
            if doc:
                buffers[name].append(doc)
        buffers["courses"].extend(courses or [])
        flush()
    flush(force=True)
    return written, written / (time.perf_counter() - started)


def sign_in(url):
    """Cookies of a fresh session (access tokens last 15 minutes; a run takes longer)."""
    _, _, headers = call("POST", url + "/api/auth/login", ADMIN)
    return "; ".join(f"{k}={v}" for k, v in cookies_from(headers).items())


def measure(url, repeat, course_id):
    headers = {"Cookie": sign_in(url)}
    checks = {
        "analytics, last 30 days (default)": "/api/admin/analytics",
        "analytics, last 366 days": "/api/admin/analytics?from={year_ago}",
        "students, page 1": "/api/admin/students",
        "students, page 50": "/api/admin/students?page=50",
        "students, search q": "/api/admin/students?q=student%2012",
        "enrollments, page 1": "/api/admin/enrollments",
        "enrollments, page 200": "/api/admin/enrollments?page=200",
        "enrollments, one course": f"/api/admin/enrollments?courseId={course_id}",
        "enrollments, refunded in a month": "/api/admin/enrollments?status=refunded&from={month_ago}",
        "payments, page 1": "/api/admin/payments",
        "payments, refunded in a month": "/api/admin/payments?status=refunded&from={month_ago}",
    }
    year_ago = (data.midnight(-365)).date().isoformat()
    month_ago = (data.midnight(-30)).date().isoformat()
    results = {}
    for name, path in checks.items():
        path = path.format(year_ago=year_ago, month_ago=month_ago)
        samples, failures = [], set()
        for _ in range(repeat):
            def get():
                status, body, _ = call("GET", url + path, headers=headers, timeout=300)
                if status != 200:
                    failures.add(f"{status} {body['error']['code']}")
            samples.append(timed(get))
        results[name] = {**summary(samples), "failed": ", ".join(sorted(failures))}
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = random.Random(7)
    rows = generate(max(sizes), rng)
    env = {"LMS_BOOTSTRAP_ADMIN_EMAIL": ADMIN["email"], "LMS_BOOTSTRAP_ADMIN_PASSWORD": ADMIN["password"],
           "LMS_BCRYPT_ROUNDS": "4"}
    with Stack(**env) as stack:
        client = pymongo.MongoClient(stack.db.uri, tz_aware=True)
        db = client.lms_bench
        loaded = 0
        for size in sizes:
            chunk = [next(rows) for _ in range(size - loaded)]
            written, rate = load(db, chunk)
            loaded = size
            started = time.perf_counter()
            rebuilt = day_counters.rebuild(db)
            print(f"rebuilt the analytics counters ({rebuilt['days']} days) in {time.perf_counter() - started:.1f} s")
            course_id = db.courses.find_one()["_id"]
            print(f"\n== {size:,} enrollments ({db.users.count_documents({}):,} users, "
                  f"{db.payments.count_documents({}):,} payments, {db.certificates.count_documents({}):,} "
                  f"certificates); inserted {written:,} documents at {rate:,.0f}/s with insert_many")
            for label in ("indexes of lms/db.py", "with PROPOSED indexes"):
                if label.startswith("with"):
                    for name, models in PROPOSED.items():
                        db[name].create_indexes(models)
                print(f"-- {label}: ms per request (p50 / max of {args.repeat})")
                for name, stats in measure(stack.url, args.repeat, course_id).items():
                    print(f"   {name:38} {stats['p50']:9.1f} {stats['max']:9.1f}  {stats['failed']}")
            for name, models in PROPOSED.items():
                for model in models:
                    db[name].drop_index(model.document["name"])
        client.close()


if __name__ == "__main__":
    main()
