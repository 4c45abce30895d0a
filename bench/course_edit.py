"""How long a change to a course's lessons takes to reach every learner's stored progress.

    .venv/bin/python bench/course_edit.py [--sizes 1000,10000]

A published course of 20 lessons with N enrolled learners, each of whom completed a random
number of its lessons (documents written straight into the service's database with
``insert_many``, in the shapes the services write them). An admin then adds a lesson through
``PUT /api/admin/courses/:id`` over HTTP, and the service's in-process worker recounts every
enrollment (``lms.learning.progress``). Printed: the PUT's latency (it queues the recount and
does not wait for it), the time until the recount job is done and enrollments recounted per
second, and the latency of one learner's ``complete-lesson`` calls while the recount runs.
"""
import argparse
import random
import threading
import time

import pymongo

from common import Stack, call, summary, timed
from lms import audit
from lms.db import new_id, now
from lms.learning import authoring
from support import factories as data
from support.live import cookies_from

LESSONS = 20
BATCH = 5000
ADMIN = {"email": "bench-admin@example.com", "password": "bench-admin-password"}
LEARNER = {"email": "bench-learner@example.com", "password": "bench-learner-password"}


def outline(extra=0):
    return [{"id": f"m{m}", "title": f"Module {m}", "lessons": [
        {"id": f"l{m}-{n}", "title": f"Lesson {n}", "durationMin": 10, "content": "Read this."} for n in range(5)]}
        for m in range(LESSONS // 5)] + [{"id": "extra", "title": "Extra", "lessons": [
            {"id": f"x{n}", "title": f"Extra {n}"} for n in range(extra)]}]


def load(db, course, size, rng):
    """``size`` enrolled learners with their progress rows; returns how many rows were written."""
    ids = [lesson["id"] for module in course["modules"] for lesson in module["lessons"]]
    places = {lesson["id"]: module["id"] for module in course["modules"] for lesson in module["lessons"]}
    users, enrollments, rows, written = [], [], [], 0
    at = now()
    for n in range(size):
        user = data.student(n, at=at)
        done = rng.randint(0, LESSONS)
        users.append(user)
        enrollments.append({**data.enrollment(user["_id"], course["_id"], at=at, lessons=LESSONS),
                            "progress": 100 * done // LESSONS, "completedLessons": done})
        rows += [{"_id": new_id(), "userId": user["_id"], "courseId": course["_id"], "moduleId": places[lesson],
                  "lessonId": lesson, "completedAt": at} for lesson in ids[:done]]
        if len(rows) >= BATCH or n == size - 1:
            for name, docs in (("users", users), ("enrollments", enrollments), ("progress", rows)):
                if docs:
                    db[name].insert_many(docs, ordered=False)
                    written += len(docs)
                    docs.clear()
    return written


def session(url, who):
    _, _, headers = call("POST", url + "/api/auth/login", who)
    cookies = cookies_from(headers)
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()), "X-XSRF-TOKEN": cookies["XSRF-TOKEN"]}


def measure(stack, db, size, rng):
    course = authoring.create(db, {"title": f"Bench course {size}", "price": 0, "status": "published",
                                   "modules": outline()}, audit.SYSTEM)
    started = time.perf_counter()
    written = load(db, course, size, rng)
    rate = written / (time.perf_counter() - started)
    learner = db.users.find_one({"email": LEARNER["email"]})
    db.enrollments.insert_one(data.enrollment(learner["_id"], course["_id"], at=now(), lessons=LESSONS))
    admin, me = session(stack.url, ADMIN), session(stack.url, LEARNER)
    url = f"{stack.url}/api/admin/courses/{course['_id']}"
    during, finished = [], threading.Event()

    def study():
        lessons = [(m["id"], lesson["id"]) for m in course["modules"] for lesson in m["lessons"]]
        while not finished.is_set():
            module, lesson = rng.choice(lessons)
            during.append(timed(lambda: call("POST", stack.url + "/api/progress/complete-lesson",
                                             {"courseId": course["_id"], "moduleId": module, "lessonId": lesson}, me)))
    edit_started = time.perf_counter()
    put_ms = timed(lambda: call("PUT", url, {"modules": outline(extra=1)}, admin))
    studying = threading.Thread(target=study)
    studying.start()
    while not db.progressRecounts.count_documents({"courseId": course["_id"], "status": "done"}):
        time.sleep(0.02)
    recounted = time.perf_counter() - edit_started
    finished.set()
    studying.join()
    wrong = db.enrollments.count_documents({"courseId": course["_id"], "totalLessons": {"$ne": LESSONS + 1}})
    print(f"\n== {size:,} learners ({written:,} documents inserted at {rate:,.0f}/s)")
    print(f"   PUT (adds a lesson, queues the recount)     {put_ms:9.1f} ms")
    print(f"   recount done after                          {recounted * 1000:9.1f} ms "
          f"({(size + 1) / recounted:,.0f} enrollments/s); enrollments not recounted: {wrong}")
    stats = summary(during) if during else {"n": 0, "p50": 0, "max": 0}
    print(f"   complete-lesson during the recount          p50 {stats['p50']} ms, max {stats['max']} ms "
          f"({stats['n']} calls)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    args = parser.parse_args()
    rng = random.Random(7)
    env = {"LMS_BOOTSTRAP_ADMIN_EMAIL": ADMIN["email"], "LMS_BOOTSTRAP_ADMIN_PASSWORD": ADMIN["password"],
           "LMS_BCRYPT_ROUNDS": "4", "LMS_WORKER": "1"}
    with Stack(**env) as stack:
        client = pymongo.MongoClient(stack.db.uri, tz_aware=True)
        db = client.lms_bench
        data.create_user(db, name="Bench Learner", email=LEARNER["email"], password=LEARNER["password"])
        for size in (int(s) for s in args.sizes.split(",")):
            measure(stack, db, size, rng)
        client.close()


if __name__ == "__main__":
    main()
