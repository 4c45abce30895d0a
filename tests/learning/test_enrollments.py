"""The student's path: enroll, open lessons, complete them, and earn exactly one certificate."""
import re
import threading

import pytest

from lms.db import new_id
from support.app import app_with, browser
from support.factories import create_course, create_user, sign_in
from support.live import call

THREE_LESSONS = [{"id": "m1", "title": "Basics", "lessons": [
    {"id": "l1", "title": "One", "preview": True, "durationMin": 5, "content": "first"},
    {"id": "l2", "title": "Two", "durationMin": 7, "content": "second", "videoUrl": "https://v.example.com/2"}]},
    {"id": "m2", "title": "More", "lessons": [{"id": "l3", "title": "Three", "durationMin": 9, "content": "third"}]}]


def complete(client, course, module, lesson, **kw):
    return client.post_json("/api/progress/complete-lesson",
                            {"courseId": course["_id"], "moduleId": module, "lessonId": lesson}, **kw)


# --- enrolling --------------------------------------------------------------------------

def test_a_free_course_is_active_at_once_with_a_free_payment_row(signed_in, db):
    student = signed_in()
    course = create_course(db, price=0)
    response = student.post_json("/api/enroll", {"courseId": course["_id"]}, status=201)
    enrollment = response.json["enrollment"]
    assert enrollment["status"] == "active" and enrollment["totalLessons"] == 2
    payment = db.payments.find_one({"enrollmentId": enrollment["id"]})
    assert (payment["provider"], payment["amount"], payment["status"]) == ("free", 0, "captured")
    assert enrollment["paymentId"] == payment["_id"]
    assert db.auditLogs.count_documents({"action": "enrollment.activate", "targetId": enrollment["id"]}) == 1


def test_a_simulated_payment_activates_a_paid_course_in_development(signed_in, db):
    student = signed_in()
    course = create_course(db, price=49900, currency="INR")
    enrollment = student.post_json("/api/enroll", {"courseId": course["_id"], "paymentMode": "simulated"},
                                   status=201).json["enrollment"]
    payment = db.payments.find_one({"_id": enrollment["paymentId"]})
    assert (payment["provider"], payment["amount"], payment["currency"]) == ("simulated", 49900, "INR")


def test_simulated_payments_are_refused_where_they_are_not_allowed(make_settings, db):
    with app_with(make_settings, LMS_ALLOW_SIMULATED_PAYMENTS="0") as (runtime, app):
        student = sign_in(app, create_user(runtime.db))
        course = create_course(runtime.db)
        response = student.post_json("/api/enroll", {"courseId": course["_id"], "paymentMode": "simulated"},
                                     status=403)
        assert response.json["error"]["code"] == "simulated_payments_disabled"
        assert runtime.db.payments.count_documents({}) == 0
        assert runtime.db.enrollments.count_documents({}) == 0  # nothing is left behind


def test_enrolling_twice_is_a_conflict_that_returns_the_enrollment(signed_in, db):
    student = signed_in()
    course = create_course(db, price=0)
    first = student.post_json("/api/enroll", {"courseId": course["_id"]}).json["enrollment"]
    again = student.post_json("/api/enroll", {"courseId": course["_id"]}, status=409).json
    assert again["error"]["code"] == "already_enrolled" and again["enrollment"]["id"] == first["id"]
    assert db.payments.count_documents({}) == 1


def test_racing_enrollments_make_one(live_server, db):
    server = live_server()
    user = create_user(db)
    course = create_course(db, price=0)
    auth = server.sign_in(user)
    statuses = []
    threads = [threading.Thread(target=lambda: statuses.append(
        call("POST", server.url + "/api/enroll", {"courseId": course["_id"]}, auth)[0])) for _ in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(statuses) == [201] + [409] * 5
    assert db.enrollments.count_documents({}) == 1 and db.payments.count_documents({}) == 1


@pytest.mark.parametrize("body, status", [
    ({"courseId": "0123456789abcdef01234567"}, 404), ({"courseId": "nope"}, 400),
    ({"courseId": {"$ne": None}}, 400), ({}, 400), ({"courseId": None}, 400),
])
def test_enrolling_in_nothing_is_refused(signed_in, db, body, status):
    signed_in().post_json("/api/enroll", body, status=status)
    assert db.enrollments.count_documents({}) == 0


@pytest.mark.parametrize("status", ["draft", "archived"])
def test_unpublished_courses_cannot_be_enrolled(signed_in, db, status):
    course = create_course(db, price=0, status=status) if status == "draft" else create_course(db, price=0)
    if status == "archived":
        db.courses.update_one({"_id": course["_id"]}, {"$set": {"status": "archived"}})
    signed_in().post_json("/api/enroll", {"courseId": course["_id"]}, status=404)
    assert db.enrollments.count_documents({}) == 0


def test_own_enrollments_list_with_course_titles(signed_in, db):
    student, other = signed_in(), signed_in()
    a, b = create_course(db, price=0, title="Alpha"), create_course(db, price=0, title="Beta")
    for course in (a, b):
        student.post_json("/api/enroll", {"courseId": course["_id"]})
    other.post_json("/api/enroll", {"courseId": a["_id"]})
    listing = student.get("/api/enrollments").json
    assert listing["total"] == 2 and {e["course"]["title"] for e in listing["items"]} == {"Alpha", "Beta"}
    assert all(e["userId"] == student.user["_id"] for e in listing["items"])
    student.get("/api/enrollments?limit=500", status=400)


# --- lessons ----------------------------------------------------------------------------

def test_lesson_content_is_for_preview_enrolled_or_staff(app, signed_in, db):
    course = create_course(db, price=0, modules=THREE_LESSONS)
    slug = course["slug"]
    anonymous, student, staff = browser(app), signed_in(), signed_in("instructor")
    assert anonymous.get(f"/api/courses/{slug}/lessons/l1").json["lesson"]["content"] == "first"
    assert anonymous.get(f"/api/courses/{slug}/lessons/l2", status=401)
    assert student.get(f"/api/courses/{slug}/lessons/l2", status=403).json["error"]["code"] == "not_enrolled"
    assert staff.get(f"/api/courses/{slug}/lessons/l2").json["lesson"]["videoUrl"] == "https://v.example.com/2"
    student.post_json("/api/enroll", {"courseId": course["_id"]})
    assert student.get(f"/api/courses/{slug}/lessons/l2").json["lesson"]["content"] == "second"
    anonymous.get(f"/api/courses/{slug}/lessons/zz", status=404)
    anonymous.get("/api/courses/no-such-course/lessons/l1", status=404)


@pytest.mark.parametrize("ended", ["refunded", "cancelled"])
def test_an_ended_enrollment_loses_access(signed_in, db, ended):
    course = create_course(db, price=0, modules=THREE_LESSONS)
    student = signed_in()
    student.post_json("/api/enroll", {"courseId": course["_id"]})
    db.enrollments.update_one({"courseId": course["_id"]}, {"$set": {"status": ended}})
    student.get(f"/api/courses/{course['slug']}/lessons/l2", status=403)
    complete(student, course, "m1", "l2", status=403)


# --- progress and the certificate record -------------------------------------------------

def test_progress_counts_each_lesson_once_and_floors_the_percentage(signed_in, db):
    course = create_course(db, price=0, modules=THREE_LESSONS)
    student = signed_in()
    student.post_json("/api/enroll", {"courseId": course["_id"]})
    first = complete(student, course, "m1", "l1").json
    assert first["progress"]["percentage"] == 33 and first["certificateCreated"] is False
    again = complete(student, course, "m1", "l1").json
    assert again["progress"] == first["progress"]
    assert db.progress.count_documents({}) == 1
    assert complete(student, course, "m1", "l2").json["progress"]["percentage"] == 66
    shown = student.get(f"/api/progress/{course['_id']}").json["progress"]
    assert shown["completedLessonIds"] == ["l1", "l2"] and shown["percentage"] == 66
    enrollment = db.enrollments.find_one()
    assert (enrollment["progress"], enrollment["completedLessons"], enrollment["totalLessons"]) == (66, 2, 3)


def test_the_last_lesson_creates_one_pending_certificate(signed_in, db):
    course = create_course(db, price=0, modules=THREE_LESSONS)
    student = signed_in()
    student.post_json("/api/enroll", {"courseId": course["_id"]})
    complete(student, course, "m1", "l1")
    complete(student, course, "m1", "l2")
    done = complete(student, course, "m2", "l3").json
    assert done["progress"]["percentage"] == 100 and done["certificateCreated"] is True
    assert re.fullmatch(r"CERT-[0-9A-HJKMNP-TV-Z]{10}", done["certId"])
    cert = db.certificates.find_one()
    assert (cert["status"], cert["studentName"], cert["courseTitle"]) == \
        ("pending", student.user["name"], course["title"])
    repeat = complete(student, course, "m2", "l3").json
    assert repeat["certificateCreated"] is False and "certId" not in repeat
    assert db.enrollments.find_one()["completedAt"] is not None
    mine = student.get("/api/user/certificates").json["items"]
    assert [c["certId"] for c in mine] == [done["certId"]]
    assert mine[0]["verifyUrl"] == f"https://lms.test/verify/{done['certId']}"


@pytest.mark.parametrize("last", [("l2", "l3"), ("l3", "l3")], ids=["two-last-lessons", "same-lesson"])
def test_racing_last_lessons_create_exactly_one_certificate(live_server, db, last):
    server = live_server()
    user = create_user(db)
    course = create_course(db, price=0, modules=THREE_LESSONS)
    auth = server.sign_in(user)
    call("POST", server.url + "/api/enroll", {"courseId": course["_id"]}, auth)
    modules = {"l1": "m1", "l2": "m1", "l3": "m2"}
    for lesson in sorted(set(modules) - set(last)):  # all but the racing ones
        call("POST", server.url + "/api/progress/complete-lesson",
             {"courseId": course["_id"], "moduleId": modules[lesson], "lessonId": lesson}, auth)
    answers = []
    barrier = threading.Barrier(4)

    def go(lesson):
        barrier.wait()
        answers.append(call("POST", server.url + "/api/progress/complete-lesson",
                            {"courseId": course["_id"], "moduleId": modules[lesson], "lessonId": lesson}, auth)[1])
    threads = [threading.Thread(target=go, args=(lesson,)) for lesson in last * 2]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert db.certificates.count_documents({}) == 1
    assert sum(a["certificateCreated"] for a in answers) == 1
    assert db.auditLogs.count_documents({"action": "certificate.create"}) == 1


def test_a_project_course_waits_for_an_approved_submission(signed_in, db):
    course = create_course(db, price=0, requiresProject=True)
    student = signed_in()
    student.post_json("/api/enroll", {"courseId": course["_id"]})
    complete(student, course, "m1", "intro")
    done = complete(student, course, "m1", "setup").json
    assert done["progress"]["percentage"] == 100 and done["certificateCreated"] is False
    assert db.certificates.count_documents({}) == 0


@pytest.mark.parametrize("module, lesson, status", [
    ("m1", "nope", 404), ("m2", "intro", 404), ("m1", {"$ne": ""}, 400), ("", "intro", 400)])
def test_completing_a_lesson_that_is_not_there_is_refused(signed_in, db, module, lesson, status):
    course = create_course(db, price=0)
    student = signed_in()
    student.post_json("/api/enroll", {"courseId": course["_id"]})
    student.post_json("/api/progress/complete-lesson",
                      {"courseId": course["_id"], "moduleId": module, "lessonId": lesson}, status=status)
    assert db.progress.count_documents({}) == 0


def test_completing_without_an_enrollment_is_403(signed_in, db):
    course = create_course(db, price=0)
    response = complete(signed_in(), course, "m1", "intro", status=403)
    assert response.json["error"]["code"] == "not_enrolled"
    assert db.progress.count_documents({}) == 0


def test_progress_of_a_course_one_is_not_enrolled_in_is_404(signed_in, db):
    course = create_course(db, price=0)
    signed_in().get(f"/api/progress/{course['_id']}", status=404)
    signed_in().get(f"/api/progress/{new_id()}", status=404)


def test_editing_lessons_moves_percentages_but_keeps_certificates(signed_in, db):
    course = create_course(db, price=0, modules=THREE_LESSONS)
    admin, student = signed_in("admin"), signed_in()
    student.post_json("/api/enroll", {"courseId": course["_id"]})
    for module, lesson in (("m1", "l1"), ("m1", "l2"), ("m2", "l3")):
        complete(student, course, module, lesson)
    cert = db.certificates.find_one()
    more = THREE_LESSONS + [{"id": "m3", "title": "Extra", "lessons": [{"id": "l4", "title": "Four"}]}]
    admin.put_json(f"/api/admin/courses/{course['_id']}", {"modules": more})
    assert student.get(f"/api/progress/{course['_id']}").json["progress"]["percentage"] == 75
    assert db.certificates.find_one() == cert
