"""Lesson progress: one row per completed lesson, and the percentage the enrollment carries.

Completing a lesson twice changes nothing (a unique index on user, course and lesson). The
percentage is floor(100 × done / total) over the course's *current* lessons, so editing a course
moves everyone's percentage but never takes back a certificate. At 100 %, and with an approved
submission where the course requires a project, the certificate record is created exactly once.
"""
from pymongo.errors import DuplicateKeyError

from ..certificates import records as certificates
from ..db import new_id, now
from ..errors import NotFound
from ..schema import Integer, ListOf, Shape, Text, Timestamp
from . import courses, enrollments

PROGRESS = Shape("Progress", {
    "courseId": Text(), "percentage": Integer(description="floor(100 × done / total)"),
    "completedLessons": Integer(), "totalLessons": Integer(), "completedLessonIds": ListOf(Text())},
    description="How far a learner is through a course's current lessons")
COMPLETED_LESSON = Shape("CompletedLesson", {"moduleId": Text(), "lessonId": Text(), "completedAt": Timestamp()})
PROGRESS_DETAIL = PROGRESS.extend("ProgressDetail", {"lessons": ListOf(COMPLETED_LESSON)})


def complete_lesson(db, user, course_id, module_id, lesson_id, actor, *, cert_prefix):
    """Returns (progress summary, certificate or None, created)."""
    enrollments.require_active(db, user["_id"], course_id)
    course = courses.get(db, course_id)
    if not courses.find_lesson(course, module_id, lesson_id):
        raise NotFound("No such lesson in this module", code="lesson_not_found")
    try:
        db.progress.insert_one({"_id": new_id(), "userId": user["_id"], "courseId": course_id,
                                "moduleId": module_id, "lessonId": lesson_id, "completedAt": now()})
    except DuplicateKeyError:
        pass  # already completed: the same answer as the first time
    return certify_if_complete(db, user, course, actor, cert_prefix=cert_prefix)


def certify_if_complete(db, user, course, actor, *, cert_prefix):
    """Recount, and create the certificate record when every requirement is met (also called
    when a project is approved). Returns (progress summary, certificate or None, created)."""
    summary = recount(db, user["_id"], course)
    if summary["percentage"] < 100 or not certificates.eligible(db, user["_id"], course):
        return summary, None, False
    cert, created = certificates.create_once(db, user, course, prefix=cert_prefix, actor=actor)
    return summary, cert, created


def recount(db, user_id, course):
    """Count this user's completed lessons of ``course`` and store the numbers on the enrollment."""
    ids = courses.lesson_ids(course)
    done = sorted(row["lessonId"] for row in db.progress.find(
        {"userId": user_id, "courseId": course["_id"], "lessonId": {"$in": ids}}, {"lessonId": 1}))
    total = len(ids)
    percentage = 100 * len(done) // total if total else 0
    stamp = now()
    # Guarded so that a slower request counting fewer lessons cannot overwrite a newer count.
    db.enrollments.update_one(
        {"userId": user_id, "courseId": course["_id"],
         "$or": [{"completedLessons": {"$lt": len(done)}}, {"totalLessons": {"$ne": total}}]},
        {"$set": {"completedLessons": len(done), "totalLessons": total, "progress": percentage,
                  "updatedAt": stamp}})
    if percentage == 100:
        db.enrollments.update_one({"userId": user_id, "courseId": course["_id"], "completedAt": None},
                                  {"$set": {"completedAt": stamp}})
    return PROGRESS.dump({"courseId": course["_id"], "percentage": percentage, "completedLessons": len(done),
                          "totalLessons": total, "completedLessonIds": done})


def of(db, user_id, course_id):
    """The progress of an enrolled user (any enrollment status) in a course."""
    enrollment = db.enrollments.find_one({"userId": user_id, "courseId": course_id})
    course = db.courses.find_one({"_id": course_id})
    if not enrollment or not course:
        raise NotFound("You are not enrolled in this course")
    ids = courses.lesson_ids(course)
    rows = list(db.progress.find({"userId": user_id, "courseId": course_id, "lessonId": {"$in": ids}})
                .sort([("completedAt", 1), ("_id", 1)]))
    total = len(ids)
    return PROGRESS_DETAIL.dump({"courseId": course_id, "percentage": 100 * len(rows) // total if total else 0,
                                 "completedLessons": len(rows), "totalLessons": total,
                                 "completedLessonIds": [r["lessonId"] for r in rows], "lessons": rows})
