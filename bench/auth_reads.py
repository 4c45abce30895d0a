"""HTTP speed of a signed-in student's reads, against a bare Bottle app doing the same reads.

    .venv/bin/python bench/auth_reads.py [--seconds 3] [--connections 4] [--enrollments 5]

A student signs in through the real login route (cookie session) and has ``--enrollments``
enrollments with some progress. For ``GET /api/user/me`` and ``GET /api/enrollments`` it prints
requests per second over N keep-alive connections, and the same for ``bench/bare_app.py`` on the
same gevent server making the same database round trips per request (the same finds on the same
documents, counted with pymongo's CommandListener: the session family check and the user for
both, then the page of enrollments, their count, their courses and the progress) and answering
the same body; and their ratio (the goal: at least 0.7). The load comes from threads in this
process on the same machine, so absolute numbers are a floor; the ratios are the point.
"""
import argparse
import json
from datetime import datetime, timedelta, timezone

import pymongo

from common import Stack, bare_app, call, throughput
from support.factories import create_course, create_user

GOAL = 0.7


def reads(db, user_id, path):
    """The database reads our service makes for ``path``, as ``bench/bare_app.py`` takes them."""
    session = db.sessions.find_one({"userId": user_id}, sort=[("_id", -1)])
    later = datetime.now(timezone.utc) - timedelta(minutes=1)  # matches, as "now" does for ours
    steps = [["users", "find", {"_id": user_id}, {"limit": 1}],
             ["sessions", "find", {"familyId": session["familyId"], "revokedAt": None, "expiresAt": {"$gt": later}},
              {"projection": {"_id": 1}, "limit": 1}]]
    if path == "/api/enrollments":
        course_ids = [e["courseId"] for e in db.enrollments.find({"userId": user_id})]
        steps += [["enrollments", "find", {"userId": user_id}, {"sort": {"enrolledAt": -1, "_id": -1}, "limit": 20}],
                  ["enrollments", "aggregate", [{"$match": {"userId": user_id}},
                                                {"$group": {"_id": 1, "n": {"$sum": 1}}}]],
                  ["courses", "find", {"_id": {"$in": course_ids}},
                   {"projection": {"title": 1, "slug": 1, "modules.id": 1, "modules.lessons.id": 1,
                                   "modules.lessons.title": 1}}],
                  ["progress", "find", {"userId": user_id}, {"projection": {"courseId": 1, "lessonId": 1}}]]
    return steps


def measure(seconds=3, connections=4, enrollments=5):
    """{path: {"ours", "bare", "ratio"}} in requests per second."""
    results = {}
    with Stack() as stack:
        client = pymongo.MongoClient(stack.db.uri.replace("/?", "/lms_bench?"), tz_aware=True)
        db = client.get_default_database()
        for n in range(12):  # a catalogue around the student's courses
            create_course(db, title=f"Course number {n}", price=0)
        user = create_user(db)
        auth = stack.service.sign_in(user)
        for n in range(enrollments):
            course = create_course(db, price=0)
            status, body, _ = call("POST", stack.url + "/api/enroll", {"courseId": course["_id"]}, auth)
            assert status in (200, 201), (status, body)
            if n % 2 == 0:
                call("POST", stack.url + "/api/progress/complete-lesson",
                     {"courseId": course["_id"], "moduleId": "m1", "lessonId": "intro"}, auth)
        headers = {"Cookie": auth["Cookie"]}
        for path in ("/api/user/me", "/api/enrollments"):
            status, body, _ = call("GET", stack.url + path, headers=headers)
            assert status == 200, (path, status, body)
            ours = throughput(stack.service.port, path, seconds, connections, headers)
            spec = {"uri": stack.db.uri.replace("/?", "/lms_bench?"), "reads": reads(db, user["_id"], path)}
            with bare_app(json.dumps(body).encode(), spec) as port:
                bare = throughput(port, path, seconds, connections, headers)
            results[path] = {"ours": ours, "bare": bare, "ratio": ours / bare, "reads": len(spec["reads"])}
        client.close()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--enrollments", type=int, default=5)
    args = parser.parse_args()
    for path, r in measure(args.seconds, args.connections, args.enrollments).items():
        print(f"GET {path}: {r['ours']:,.0f} req/s; bare Bottle with the same {r['reads']} reads and body "
              f"{r['bare']:,.0f} req/s; ratio {r['ratio']:.2f} (goal >= {GOAL}, {args.connections} connections)")


if __name__ == "__main__":
    main()
