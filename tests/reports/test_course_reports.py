"""One course's roster and numbers for its instructors, instructors' lists limited to their
courses, and rows that name the people and courses they refer to."""
import codecs
import csv
import io
from datetime import datetime, timedelta, timezone

import pytest

from lms.db import new_id
from support import factories
from support.factories import complete_course, create_course, create_user, enroll, teaching

AT = datetime(2025, 3, 1, 9, tzinfo=timezone.utc)


def base(course):
    return f"/api/admin/courses/{course['_id']}"


@pytest.fixture
def taught(signed_in, db):
    """A course with four students in four states, and a client of its instructor."""
    course = create_course(db, price=0, title="Go")
    mentor = signed_in("instructor")
    teaching(db, course, mentor)
    done, started, idle, gone = (signed_in(name=n) for n in ("Asha", "Ravi", "Idle", "Gone"))
    for student in (done, started, idle, gone):
        enroll(student, course)
    complete_course(done, course)
    started.post_json("/api/progress/complete-lesson", {"courseId": course["_id"], "moduleId": "m1", "lessonId": "intro"})
    for _ in range(2):
        started.post_json("/api/submissions", {"courseId": course["_id"], "submissionUrl": "https://e.com/p"})
    db.enrollments.update_one({"userId": gone.user["_id"]}, {"$set": {"status": "refunded"}})
    return {"course": course, "mentor": mentor, "done": done, "started": started, "idle": idle, "gone": gone}


def test_the_roster_shows_each_students_progress_activity_submission_and_certificate(taught, db):
    course, mentor = taught["course"], taught["mentor"]
    body = mentor.get(f"{base(course)}/students", {"sort": "progress"}).json
    assert body["total"] == 4
    rows = {row["user"]["name"]: row for row in body["items"]}
    assert [row["user"]["name"] for row in body["items"]][:2] == ["Asha", "Ravi"]
    asha, ravi, idle = rows["Asha"], rows["Ravi"], rows["Idle"]
    cert = db.certificates.find_one()
    assert (asha["progress"], asha["lastLessonId"], asha["certificate"]) == (
        100, "setup", {"certId": cert["certId"], "status": "pending"})
    assert asha["submission"] is None and asha["user"]["email"] == taught["done"].user["email"]
    assert (ravi["progress"], ravi["lastLessonId"], ravi["certificate"]) == (50, "intro", None)
    assert (ravi["submission"]["status"], ravi["submission"]["submissions"]) == ("pending", 2)
    assert (idle["progress"], idle["lastActivityAt"], idle["submission"]) == (0, None, None)
    assert rows["Gone"]["status"] == "refunded"
    by_activity = mentor.get(f"{base(course)}/students", {"sort": "activity"}).json["items"]
    assert [row["user"]["name"] for row in by_activity][:2] == ["Ravi", "Asha"]  # Ravi's lesson came last
    active = mentor.get(f"{base(course)}/students", {"status": "refunded"}).json["items"]
    assert [row["user"]["name"] for row in active] == ["Gone"]


def test_the_roster_as_csv_is_every_row_and_is_audited(taught, db):
    course, mentor = taught["course"], taught["mentor"]
    response = mentor.get(f"{base(course)}/students", {"format": "csv", "sort": "progress"})
    assert response.content_type == "text/csv" and response.body.startswith(codecs.BOM_UTF8)
    rows = list(csv.DictReader(io.StringIO(response.body.decode("utf-8-sig"))))
    assert [(r["userName"], r["progress"], r["submissionStatus"], r["submissions"]) for r in rows[:2]] == [
        ("Asha", "100", "", "0"), ("Ravi", "50", "pending", "2")]
    assert rows[0]["certificateId"] == db.certificates.find_one()["certId"]
    entry = db.auditLogs.find_one({"action": "report.export", "targetId": "roster"})
    assert (entry["actorId"], entry["details"]["courseId"]) == (mentor.user["_id"], course["_id"])


def test_only_a_courses_instructors_and_admins_read_its_reports(taught, signed_in):
    course = taught["course"]
    for caller in (signed_in("instructor"), taught["started"]):
        for report in ("students", "analytics"):
            assert caller.get(f"{base(course)}/{report}", status=403).json["error"]["code"] in (
                "not_course_instructor", "forbidden")
    assert signed_in("admin").get(f"{base(course)}/analytics").json["learners"] == 4
    signed_in("admin").get("/api/admin/courses/0123456789abcdef01234567/students", status=404)


def test_a_courses_numbers_match_a_count_by_hand(signed_in, db):
    course = create_course(db, title="Counted")
    mentor = signed_in("instructor")
    teaching(db, course, mentor)
    people = [create_user(db) for _ in range(5)]
    hours = [2, 4, 10]  # three completions: the median is 4 hours
    rows = [factories.enrollment(p["_id"], course["_id"], at=AT, completed=AT + timedelta(hours=h))
            for p, h in zip(people, hours)]
    rows.append(factories.enrollment(people[3]["_id"], course["_id"], at=AT))  # active, not done
    rows.append(factories.enrollment(people[4]["_id"], course["_id"], at=AT, status="pending"))
    db.enrollments.insert_many(rows)
    db.payments.insert_many([
        factories.payment(p["_id"], course["_id"], r["_id"], amount=49900, at=AT) for p, r in zip(people[:3], rows)]
        + [factories.payment(people[3]["_id"], course["_id"], rows[3]["_id"], amount=49900, at=AT, status="refunded",
                             refunded=AT + timedelta(days=1)),
           factories.payment(people[4]["_id"], course["_id"], rows[4]["_id"], amount=1999, currency="USD", at=AT)])
    db.progress.insert_many([{"_id": new_id(), "userId": p["_id"], "courseId": course["_id"],
                              "moduleId": "m1", "lessonId": lesson, "completedAt": AT}
                             for p, lessons in zip(people, (["intro", "setup"],) * 3 + (["intro"],))
                             for lesson in lessons])
    body = mentor.get(f"{base(course)}/analytics").json
    assert body["course"] == {"id": course["_id"], "title": "Counted", "slug": course["slug"]}
    assert body["enrollments"] == {"pending": 1, "active": 4, "cancelled": 0, "refunded": 0, "total": 5}
    assert (body["learners"], body["completions"], body["completionRate"]) == (4, 3, 0.75)
    assert body["medianSecondsToComplete"] == 4 * 3600
    assert body["revenue"] == [
        {"currency": "INR", "captured": 4 * 49900, "refunded": 49900, "disputesLost": 0, "net": 3 * 49900},
        {"currency": "USD", "captured": 1999, "refunded": 0, "disputesLost": 0, "net": 1999}]
    assert body["lessons"] == [
        {"lessonId": "intro", "moduleId": "m1", "title": "Introduction", "completed": 4, "dropOff": 0},
        {"lessonId": "setup", "moduleId": "m1", "title": "Set up", "completed": 3, "dropOff": 1}]


def test_a_course_without_learners_has_empty_numbers(signed_in, db):
    body = signed_in("admin").get(f"{base(create_course(db))}/analytics").json
    assert (body["learners"], body["completionRate"], body["medianSecondsToComplete"], body["revenue"]) == (
        0, None, None, [])
    assert [lesson["dropOff"] for lesson in body["lessons"]] == [0, 0]


def test_an_even_number_of_completions_has_the_mean_of_the_middle_two_as_median(signed_in, db):
    course = create_course(db)
    db.enrollments.insert_many([factories.enrollment(new_id(), course["_id"], at=AT,
                                                     completed=AT + timedelta(hours=h)) for h in (1, 2, 4, 100)])
    assert signed_in("admin").get(f"{base(course)}/analytics").json["medianSecondsToComplete"] == 3 * 3600


def test_instructors_list_the_enrollments_of_their_courses_only(taught, signed_in, db):
    other = create_course(db, price=0)
    enroll(signed_in(), other)
    mentor = taught["mentor"]
    listed = mentor.get("/api/admin/enrollments").json
    assert listed["total"] == 4 and {e["courseId"] for e in listed["items"]} == {taught["course"]["_id"]}
    assert mentor.get("/api/admin/enrollments", {"courseId": other["_id"]}).json["total"] == 0
    assert len(mentor.get("/api/admin/enrollments?format=csv").text.strip().splitlines()) == 5
    assert signed_in("admin").get("/api/admin/enrollments").json["total"] == 5
    assert signed_in("instructor").get("/api/admin/analytics", status=403).json["error"]["code"] == "forbidden"


def test_audit_rows_name_their_actor(signed_in, db):
    admin = signed_in("admin", name="Priya Admin")
    admin.post_json("/api/admin/courses", {"title": "Named", "price": 0}, status=201)
    create_course(db)  # by the system
    rows = admin.get("/api/admin/logs", {"targetType": "course"}).json["items"]
    assert rows[0]["actor"] == {"id": "system", "name": None, "email": None}
    assert rows[1]["actor"] == {"id": admin.user["_id"], "name": "Priya Admin", "email": admin.user["email"]}
