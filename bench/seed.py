"""The large data set of the scale benchmarks, written with bulk ``insert_many``.

    .venv/bin/python bench/seed.py [--enrollments 100000] [--uri mongodb://...] [--exit]

Writes ``--enrollments`` enrollments with their students, courses, payments, certificates,
project submissions and audit-log entries (every staff list has rows) into the database of
``--uri`` (``lms_bench`` when the URI names none), or into a fresh embedded server on
:memory:, whose URI it prints and which it keeps serving until Ctrl-C (``--exit``: stop it).
Prints the documents written per collection and the seconds taken: the goal is under two
minutes for 100k enrollments.

The data grows the way a platform does: a steady ~300 enrollments a day, so 100k enrollments
are ~11 months of history, newest first. Documents have the shapes the services write
(``tests/support/factories.py``). ``bench/admin.py`` loads the same rows in two steps (10k,
then the rest up to 100k).
"""
import argparse
import random
import time
from collections import defaultdict
from datetime import timedelta

import pymongo

from common import DatabaseServer
from support import factories as data
from lms import db as database
from lms.reports import stats

PER_DAY = 300
COURSES = 60
ENROLLMENTS_PER_STUDENT = 4
SUBMISSION_SHARE = 0.2  # of the enrollments in a course that asks for a project
BATCH = 5000


def generate(total, rng):
    """``total`` enrollments, newest first, as ``(collection, document)`` pairs: the courses,
    then each student before their enrollments, each enrollment after its audit entries,
    payment, submission and certificate."""
    now = data.midnight(1)
    courses = [{"_id": data.new_id(), "title": f"Course {n}", "slug": f"course-{n}",
                "price": rng.choice([0, 49900, 99900, 1999]), "status": "published",
                "requiresProject": n % 3 == 0, "createdAt": now - timedelta(days=400)} for n in range(COURSES)]
    for course in courses:
        course["currency"] = "USD" if course["price"] == 1999 else "INR"
        yield "courses", course
    for n in range(total):
        at = now - timedelta(seconds=n * 86400 / PER_DAY + rng.random())
        if n % ENROLLMENTS_PER_STUDENT == 0:  # one enrollment per (student, course): a unique index
            picks = rng.sample(courses, ENROLLMENTS_PER_STUDENT)
            user = data.student(n // ENROLLMENTS_PER_STUDENT, at=at - timedelta(minutes=5))
            yield "users", user
        course = picks[n % ENROLLMENTS_PER_STUDENT]
        status = rng.choices(["active", "pending", "cancelled", "refunded"], [85, 5, 5, 5])[0]
        completed = at + timedelta(days=rng.randint(1, 40)) if status == "active" and rng.random() < 0.3 else None
        completed = completed if completed and completed < now else None
        enrollment = data.enrollment(user["_id"], course["_id"], status=status, at=at, completed=completed)
        yield "auditLogs", _entry(user, "enrollment.create", "enrollment", enrollment["_id"], at)
        if course["price"] and status != "pending":
            paid = {"active": "captured", "cancelled": "failed", "refunded": "refunded"}[status]
            payment = data.payment(user["_id"], course["_id"], enrollment["_id"], amount=course["price"],
                                   currency=course["currency"], status=paid, at=at,
                                   refunded=at + timedelta(days=rng.randint(1, 10)))
            enrollment["paymentId"] = payment["_id"]
            yield "payments", payment
        if course["requiresProject"] and status == "active" and rng.random() < SUBMISSION_SHARE:
            yield "submissions", _submission(user, course, at + timedelta(hours=rng.randint(1, 200)), now, rng)
        if completed:
            cert = data.certificate(user["_id"], course["_id"], at=completed, student_name=user["name"],
                                    course_title=course["title"],
                                    status=rng.choice(["active"] * 8 + ["pending", "revoked"]))
            yield "certificates", cert
            if cert["issuedAt"]:
                yield "auditLogs", _entry(None, "certificate.issue", "certificate", cert["certId"], completed)
        yield "enrollments", enrollment  # last of its group: ``take`` cuts the rows after it


def take(rows, enrollments):
    """The rows of the next ``enrollments`` enrollments of ``rows`` (to load a data set in steps)."""
    seen = 0
    for name, doc in rows:
        yield name, doc
        if name == "enrollments":
            seen += 1
            if seen == enrollments:
                return


def _entry(user, action, target_type, target_id, at):
    """An audit entry as ``lms.audit.record`` writes it (the system's when ``user`` is None)."""
    return {"_id": data.new_id(), "action": action, "actorId": user["_id"] if user else "system",
            "actorRole": user["role"] if user else None, "targetType": target_type, "targetId": target_id,
            "timestamp": at, "details": {}, "ip": "203.0.113.9" if user else None, "requestId": None}


def _submission(user, course, at, now, rng):
    """A project submission as ``lms.learning.submissions.submit`` writes it, reviewed or not."""
    status = rng.choice(["pending", "approved", "approved", "rejected"])
    reviewed = min(at + timedelta(days=2), now) if status != "pending" else None
    return {"_id": data.new_id(), "userId": user["_id"], "courseId": course["_id"],
            "submissionUrl": f"https://github.com/learner/{course['slug']}", "files": [], "status": status,
            "grade": rng.choice("ABC") if status == "approved" else None,
            "mentorComments": "Reviewed" if reviewed else None, "verified": status == "approved",
            "reviewedBy": None, "reviewedAt": reviewed, "createdAt": min(at, now)}


def load(db, rows):
    """Insert ``rows`` (from ``generate``) in batches of ``BATCH``; {collection: documents written}."""
    buffers, written = defaultdict(list), defaultdict(int)
    for name, doc in rows:
        docs = buffers[name]
        docs.append(doc)
        if len(docs) >= BATCH:
            db[name].insert_many(docs, ordered=False)
            written[name] += len(docs)
            docs.clear()
    for name, docs in buffers.items():
        if docs:
            db[name].insert_many(docs, ordered=False)
            written[name] += len(docs)
    return dict(written)


def finish(db):
    """What follows the bulk inserts, the one place for it (``admin.py`` calls it after each
    step too): every index of ``lms/db.py``, and whatever the service derives from the source
    collections and the inserts bypassed: the analytics' per-day counters, recounted as
    ``lms.py rebuild-stats`` would."""
    database.ensure_indexes(db)
    stats.rebuild(db)


def seed(db, enrollments, rng=None):
    """Write the data set into ``db``; {"seconds", "documents": {collection: count}}."""
    started = time.perf_counter()
    written = load(db, generate(enrollments, rng or random.Random(7)))
    finish(db)
    return {"seconds": time.perf_counter() - started, "documents": written}


def measure(enrollments=100_000):
    """Seed a fresh embedded server; the figures of ``seed`` (for ``bench/run.py``)."""
    server = DatabaseServer().start()
    try:
        client = pymongo.MongoClient(server.uri, tz_aware=True)
        result = seed(client.lms_bench, enrollments)
        client.close()
        return result
    finally:
        server.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--enrollments", type=int, default=100_000)
    parser.add_argument("--uri", help="the database to fill (default: a fresh embedded server)")
    parser.add_argument("--exit", action="store_true", help="stop the embedded server when done")
    args = parser.parse_args()
    server = None if args.uri else DatabaseServer().start()
    uri = args.uri or server.uri
    print(f"database: {uri}", flush=True)
    client = pymongo.MongoClient(uri, tz_aware=True)
    try:
        db = client.get_default_database("lms_bench")
        result = seed(db, args.enrollments)
        counts = ", ".join(f"{n:,} {name}" for name, n in result["documents"].items())
        print(f"seeded {args.enrollments:,} enrollments into {db.name} in {result['seconds']:.1f}s "
              f"(goal: under 120 s): {counts}")
        if server and not args.exit:
            print(f"serving {uri} (database {db.name}); Ctrl-C stops it", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        client.close()
        if server:
            server.kill()


if __name__ == "__main__":
    main()
