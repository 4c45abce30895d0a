"""Stored progress after courses change: the worker's recount, where to continue, and the races
between learners and editors over real sockets."""
import threading
from datetime import timedelta

from lms.db import now
from lms.learning import courses, progress
from support.factories import create_course, create_user, enroll
from support.live import call
from support.progress import WORKER, recount, stored
from support.waits import wait_until

OUTLINE = [{"id": "m1", "title": "Basics", "lessons": [{"id": "l1", "title": "One", "preview": True},
                                                         {"id": "l2", "title": "Two"}]},
           {"id": "m2", "title": "More", "lessons": [{"id": "l3", "title": "Three"}]}]
GROWN = OUTLINE + [{"id": "m3", "title": "Extra", "lessons": [{"id": "l4", "title": "Four"}]}]
COMPLETE = "/api/progress/complete-lesson"
PLACE = {"l1": "m1", "l2": "m1", "l3": "m2", "l4": "m3", "l5": "m3"}


def complete(client, course, *lessons):
    for lesson in lessons:
        answer = client.post_json(COMPLETE, {"courseId": course["_id"], "moduleId": PLACE[lesson], "lessonId": lesson})
    return answer.json


def learner(signed_in, course, *lessons):
    student = signed_in()
    enroll(student, course, status=201)
    if lessons:
        complete(student, course, *lessons)
    return student


def edit(signed_in, course, modules, **more):
    return signed_in("admin").put_json(f"/api/admin/courses/{course['_id']}", {"modules": modules, **more})


def jobs(db, status):
    return db.progressRecounts.count_documents({"status": status})


# --- every view agrees after a change -------------------------------------------------------

def test_after_a_lesson_is_added_every_view_agrees(signed_in, db):
    course = create_course(db, price=0, modules=OUTLINE)
    student = learner(signed_in, course, "l1")
    admin = signed_in("admin")
    edit(signed_in, course, GROWN)
    assert student.get(f"/api/progress/{course['_id']}").json["progress"]["percentage"] == 25  # counted live
    assert (jobs(db, "queued"), recount(db)) == (1, 1)
    assert stored(db, student.user["_id"], course["_id"]) == (25, 1, 4)
    assert student.get("/api/enrollments").json["items"][0]["progress"] == 25
    assert admin.get("/api/admin/enrollments").json["items"][0]["progress"] == 25
    assert "25" in admin.get("/api/admin/enrollments?format=csv").text.splitlines()[1].split(",")
    assert admin.get(f"/api/admin/courses/{course['_id']}/students").json["items"][0]["totalLessons"] == 4


def test_a_learner_at_100_is_shown_the_new_lessons_and_keeps_the_certificate(signed_in, db):
    course = create_course(db, price=0, modules=OUTLINE)
    student = learner(signed_in, course, "l1", "l2", "l3")
    cert, finished = db.certificates.find_one(), db.enrollments.find_one()["completedAt"]
    edit(signed_in, course, GROWN)
    recount(db)
    shown = student.get(f"/api/progress/{course['_id']}").json["progress"]
    assert (shown["percentage"], shown["nextLesson"]) == (75, {"id": "l4", "moduleId": "m3", "title": "Four"})
    listed = student.get("/api/enrollments").json["items"][0]
    assert (listed["progress"], listed["nextLesson"]["id"], listed["completedAt"] is not None) == (75, "l4", True)
    assert db.enrollments.find_one()["completedAt"] == finished and db.certificates.find_one() == cert
    again = complete(student, course, "l4")
    assert (again["progress"]["percentage"], again["certificateCreated"]) == (100, False)
    assert db.certificates.count_documents({}) == 1


def test_a_course_that_shrinks_to_what_a_learner_did_certifies_them(signed_in, db):
    course = create_course(db, price=0, modules=OUTLINE)
    done, refunded = learner(signed_in, course, "l1", "l2"), learner(signed_in, course, "l1", "l2")
    db.enrollments.update_one({"userId": refunded.user["_id"]}, {"$set": {"status": "refunded"}})
    edit(signed_in, course, OUTLINE[:1])
    recount(db)
    assert stored(db, done.user["_id"], course["_id"]) == (100, 2, 2)
    assert stored(db, refunded.user["_id"], course["_id"]) == (100, 2, 2)
    [cert] = db.certificates.find()
    assert (cert["userId"], cert["status"]) == (done.user["_id"], "pending")
    assert db.auditLogs.find_one({"action": "certificate.create"})["actorId"] == "system"


def test_where_to_continue_is_in_the_progress_and_the_enrollment_list(signed_in, db):
    course = create_course(db, price=0, modules=OUTLINE)
    student = learner(signed_in, course)
    fresh = student.get(f"/api/progress/{course['_id']}").json["progress"]
    assert (fresh["nextLesson"]["id"], fresh["lastLessonId"], fresh["lastActivityAt"]) == ("l1", None, None)
    answer = complete(student, course, "l2")["progress"]
    assert (answer["nextLesson"]["id"], answer["lastLessonId"]) == ("l1", "l2")
    listed = student.get("/api/enrollments").json["items"][0]
    assert (listed["lastLessonId"], listed["nextLesson"]["id"]) == ("l2", "l1")
    assert listed["lastActivityAt"] == student.get(f"/api/progress/{course['_id']}").json["progress"]["lastActivityAt"]


# --- the recount job -------------------------------------------------------------------------

def test_edits_while_a_recount_waits_add_no_second_one(signed_in, db):
    course = create_course(db, price=0, modules=OUTLINE)
    learner(signed_in, course, "l1")
    edit(signed_in, course, GROWN)
    edit(signed_in, course, OUTLINE + [{"id": "m3", "title": "Extra", "lessons": [{"id": "l5", "title": "Five"}]}])
    assert jobs(db, "queued") == 1 and recount(db) == 1
    edit(signed_in, course, GROWN, confirmRemoval=["l5"])
    assert jobs(db, "queued") == 1


def test_a_recount_is_idempotent_resumes_after_its_last_batch_and_is_taken_over(signed_in, db):
    course = create_course(db, price=0, modules=OUTLINE)
    students = [learner(signed_in, course, "l1") for _ in range(3)]
    db.courses.update_one({"_id": course["_id"]}, {"$set": {"modules": GROWN, "updatedAt": now()}})
    first = db.enrollments.find_one(sort=[("userId", 1)])
    job = progress.schedule_recount(db, course["_id"])
    db.progressRecounts.update_one({"_id": job["_id"]}, {"$set": {"after": first["userId"], "counted": 1}})
    assert recount(db) == 1
    assert db.progressRecounts.find_one({"_id": job["_id"]})["counted"] == 3
    assert [stored(db, s.user["_id"], course["_id"])[0] for s in students] == [33, 25, 25]  # the first was "done"
    crashed = progress.schedule_recount(db, course["_id"])
    progress.RECOUNTS.claim(db, "a-worker-that-dies")
    db.progressRecounts.update_one({"_id": crashed["_id"]}, {"$set": {"leaseUntil": now() - timedelta(seconds=1)}})
    assert recount(db, WORKER) == 1
    twice = [stored(db, s.user["_id"], course["_id"]) for s in students]
    progress.schedule_recount(db, course["_id"])
    recount(db)
    assert [stored(db, s.user["_id"], course["_id"]) for s in students] == twice == [(25, 1, 4)] * 3


def test_a_recount_of_a_course_against_an_older_version_never_overwrites_a_newer_count(signed_in, db):
    course = create_course(db, price=0, modules=OUTLINE)
    student = learner(signed_in, course, "l1")
    old = db.courses.find_one({"_id": course["_id"]})
    edit(signed_in, course, GROWN)
    recount(db)
    summary = progress._summary(old, [{"lessonId": "l1", "completedAt": now()}])  # what a slow request counted
    db.enrollments.bulk_write(progress._writes(old, student.user["_id"], summary, now()))
    assert stored(db, student.user["_id"], course["_id"]) == (25, 1, 4)


# --- races over real sockets ------------------------------------------------------------------

def _together(*actions):
    barrier = threading.Barrier(len(actions))
    results = [None] * len(actions)

    def run(n):
        barrier.wait()
        results[n] = actions[n]()
    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(actions))]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return results


def test_an_edit_landing_while_learners_complete_lessons_leaves_the_right_numbers(live_server, db):
    server = live_server(LMS_WORKER="1")
    admin = server.sign_in(create_user(db, "admin"))

    def finish(session, course, lesson):
        return call("POST", server.url + COMPLETE, {"courseId": course["_id"], "moduleId": PLACE[lesson],
                                                    "lessonId": lesson}, session)[0]
    for round_ in range(4):
        course = create_course(db, price=0, modules=OUTLINE)
        learners = [create_user(db) for _ in range(3)]
        sessions = [server.sign_in(user) for user in learners]
        for n, session in enumerate(sessions):  # learner n has done n lessons and completes one more in the race
            call("POST", server.url + "/api/enroll", {"courseId": course["_id"]}, session)
            for lesson in ("l1", "l2")[:n]:
                finish(session, course, lesson)
        outline = GROWN if round_ % 2 else GROWN + [{"id": "m4", "title": "Last", "lessons": [{"title": "Five"}]}]
        results = _together(*(lambda n=n: finish(sessions[n], course, ("l1", "l2", "l3")[n]) for n in range(3)),
                            lambda: call("PUT", f"{server.url}/api/admin/courses/{course['_id']}",
                                         {"modules": outline}, admin)[0])
        assert results == [200] * 4
        assert wait_until(lambda: jobs(db, "queued") + jobs(db, "counting") == 0)
        total = courses.lesson_count(db.courses.find_one({"_id": course["_id"]}))
        for n, user in enumerate(learners):
            assert stored(db, user["_id"], course["_id"]) == (100 * (n + 1) // total, n + 1, total), f"round {round_}"


def test_archiving_while_a_learner_is_mid_course_takes_nothing_from_them(live_server, db):
    server = live_server()
    admin, student = server.sign_in(create_user(db, "admin")), create_user(db)
    session = server.sign_in(student)
    course = create_course(db, price=0, modules=OUTLINE)
    call("POST", server.url + "/api/enroll", {"courseId": course["_id"]}, session)

    def study(*lessons):
        return [call("POST", server.url + COMPLETE, {"courseId": course["_id"], "moduleId": PLACE[lesson],
                                                     "lessonId": lesson}, session)[:2] for lesson in lessons]
    studied, archived = _together(lambda: study("l1", "l2"),
                                  lambda: call("DELETE", f"{server.url}/api/admin/courses/{course['_id']}", None, admin))
    assert [status for status, _ in studied] == [200, 200] and archived[1]["outcome"] == "archived"
    status, body, _ = call("GET", f"{server.url}/api/courses/{course['slug']}/lessons/l3", None, session)
    assert (status, body["lesson"]["id"]) == (200, "l3")
    [(status, done)] = study("l3")
    assert (status, done["certificateCreated"], done["progress"]["percentage"]) == (200, True, 100)
    assert db.enrollments.find_one({"userId": student["_id"]})["status"] == "active"
