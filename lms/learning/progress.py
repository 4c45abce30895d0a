"""Lesson progress: one row per completed lesson, and the numbers each enrollment carries.

Completing a lesson twice changes nothing (a unique index on user, course and lesson). The
percentage is floor(100 × done / total) over the course's *current* lessons. At 100 %, and with
an approved submission where the course requires a project, the certificate record is created
exactly once.

Decisions:
- Where to continue: ``nextLesson`` is the first lesson, in course order, not completed yet;
  ``lastLessonId``/``lastActivityAt`` the most recently completed current lesson. So a learner
  at 100 % of a course that then grows is shown the new lessons, at their new percentage; their
  ``completedAt`` (when they first had every lesson done) and their certificate stay: a course
  that grows takes nothing back.
- The numbers stored on the enrollment (for lists, exports and analytics) are counted against a
  course version (its ``updatedAt``; with the lessons done it makes the stored ``countKey``). A
  count is written only when it is for a newer version, or for the same version with more
  lessons done, and a
  request counts after its own lesson row is in and against the course as it is then. So
  whatever order a lesson completion and a course edit land in, the last count standing is the
  right one.
- A change to a course's lessons queues one recount of the whole course (``RECOUNTS``, a job
  kind of ``lms.worker.queue``), done by the worker in batches of ``BATCH`` enrollments in user
  order, one index range read and one bulk write each (and one write per learner it
  completes, so that the day counters count the completion once), resuming after the last batch when a worker dies
  midway. Recounting is idempotent, so a job run twice, or two jobs for one course, agree. A
  change while a recount is queued and not started adds none (the queued one reads the newer
  course); a change while one runs queues another.
- A recount that brings an active learner to 100 % (lessons removed) creates their
  certificate as completing the last lesson would, audited as ``system``.
"""
import logging

from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError

from .. import audit
from ..certificates import records as certificates
from ..db import new_id, now
from ..errors import NotFound
from ..reports import stats
from ..schema import Integer, ListOf, Shape, Text, Timestamp
from ..worker.queue import LeasedQueue
from . import courses, enrollments

log = logging.getLogger("lms.progress")
RECOUNTS = LeasedQueue("progressRecounts", waiting="queued", running="counting", done="done")
BATCH = 500

PROGRESS = Shape("Progress", {
    "courseId": Text(), "percentage": Integer(description="floor(100 × done / total)"),
    "completedLessons": Integer(), "totalLessons": Integer(),
    "completedLessonIds": ListOf(Text(), description="In the order they were completed"),
    "nextLesson": courses.NEXT_LESSON(nullable=True), "lastLessonId": Text(nullable=True),
    "lastActivityAt": Timestamp(nullable=True)},
    description="How far a learner is through a course's current lessons, and where to continue")
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
    return certify_if_complete(db, user, course_id, actor, cert_prefix=cert_prefix)


def certify_if_complete(db, user, course_id, actor, *, cert_prefix):
    """Recount, and create the certificate record when every requirement is met (also called
    when a project is approved). Returns (progress summary, certificate or None, created)."""
    course = courses.get(db, course_id)  # read now: an edit that landed meanwhile counts
    summary = _summary(course, _rows(db, course, user["_id"]).get(user["_id"], []))
    stamp = now()
    db.enrollments.bulk_write(_writes(course, user["_id"], summary, stamp), ordered=False)
    if summary["percentage"] == 100:
        _complete(db, course, user["_id"], stamp)
    public = PROGRESS.dump(summary)
    if summary["percentage"] < 100 or not certificates.eligible(db, user["_id"], course):
        return public, None, False
    cert, created = certificates.create_once(db, user, course, prefix=cert_prefix, actor=actor)
    return public, cert, created


def of(db, user_id, course_id):
    """The progress of an enrolled user (any enrollment status) in a course."""
    enrollment = db.enrollments.find_one({"userId": user_id, "courseId": course_id}, {"_id": 1})
    course = db.courses.find_one({"_id": course_id})
    if not enrollment or not course:
        raise NotFound("You are not enrolled in this course")
    return PROGRESS_DETAIL.dump(_summary(course, _rows(db, course, user_id).get(user_id, [])))


def _rows(db, course, first, last=None):
    """user id -> their progress rows of the course's current lessons, oldest first, for the
    users from ``first`` to ``last`` (just ``first`` by default), in id order.

    One range of the (course, user) index, filtered here: a server may answer an ``$in`` over
    two fields by reading the whole collection (the embedded one does)."""
    current = set(courses.lesson_ids(course))
    found = {}
    for row in db.progress.find({"courseId": course["_id"], "userId": {"$gte": first, "$lte": last or first}},
                                {"userId": 1, "lessonId": 1, "completedAt": 1}).sort([("completedAt", 1), ("_id", 1)]):
        if row["lessonId"] in current:
            found.setdefault(row["userId"], []).append({"lessonId": row["lessonId"], "completedAt": row["completedAt"]})
    return found


def _summary(course, rows):
    done = [row["lessonId"] for row in rows]
    total = courses.lesson_count(course)
    module_of = {lesson["id"]: module["id"] for module in course["modules"] for lesson in module["lessons"]}
    last = rows[-1] if rows else {}
    return {"courseId": course["_id"], "percentage": 100 * len(done) // total if total else 0,
            "completedLessons": len(done), "totalLessons": total, "completedLessonIds": done,
            "nextLesson": courses.next_lesson(course, set(done)), "lastLessonId": last.get("lessonId"),
            "lastActivityAt": last.get("completedAt"),
            # the module a lesson is in now (it may have moved since it was completed)
            "lessons": [{**row, "moduleId": module_of[row["lessonId"]]} for row in rows]}


def count_key(course, done):
    """What a count is ordered by: the course version it was made against, then the lessons done.
    One string, so that the guard is one comparison (an ``$or`` may cost a collection scan)."""
    return f"{int(course['updatedAt'].timestamp() * 1000):015d}.{done:06d}"


def _writes(course, user_id, summary, stamp):
    """The guarded updates that store ``summary`` on the enrollment (see the module docstring)."""
    done, key = summary["completedLessons"], count_key(course, summary["completedLessons"])
    # $not $gte: also matches an enrollment never counted (no key yet)
    guard = {"userId": user_id, "courseId": course["_id"], "countKey": {"$not": {"$gte": key}}}
    numbers = {"progress": summary["percentage"], "completedLessons": done, "totalLessons": summary["totalLessons"],
               "lastLessonId": summary["lastLessonId"], "lastActivityAt": summary["lastActivityAt"],
               "countKey": key, "updatedAt": stamp}
    return [UpdateOne(guard, {"$set": numbers})]


def _complete(db, course, user_id, stamp):
    """Stamp ``completedAt`` the first time every lesson is done, and count the completion then
    (one write of its own: the day counters need to know that this write was the one)."""
    if db.enrollments.update_one({"userId": user_id, "courseId": course["_id"], "completedAt": None},
                                 {"$set": {"completedAt": stamp}}).modified_count:
        stats.completed(db, stamp)


# --- recounting a whole course, in the worker ------------------------------------------

def schedule_recount(db, course_id):
    """Queue a recount of every enrollment of the course, unless one is queued and not started."""
    if db[RECOUNTS.collection].count_documents({"courseId": course_id, "status": RECOUNTS.waiting}, limit=1):
        return None
    return RECOUNTS.enqueue(db, {"_id": new_id(), "courseId": course_id, "after": None, "counted": 0,
                                 "createdAt": now()})


def recount_due(db, worker_id, *, cert_prefix, limit=10):
    """Run due recounts (at most ``limit``); returns how many finished."""
    finished = 0
    for _ in range(limit):
        job = RECOUNTS.claim(db, worker_id)
        if not job:
            break
        try:
            counted = recount_course(db, job, worker_id, cert_prefix=cert_prefix)
        except Exception as exc:  # a failed batch is retried later, from where it stopped
            log.warning("recount of course %s failed (attempt %s): %s", job["courseId"], job["attempts"], exc)
            RECOUNTS.retry_or_fail(db, job, worker_id, f"{type(exc).__name__}: {exc}")
            continue
        if counted is not None and RECOUNTS.finish(db, job, worker_id, {"finishedAt": now(), "counted": counted}):
            finished += 1
    return finished


def recount_course(db, job, worker_id, *, cert_prefix):
    """Recount the course's enrollments of users after ``job["after"]`` (a user id), a batch at a
    time in user order; returns how many were counted, or None when the job was taken over."""
    course = db.courses.find_one({"_id": job["courseId"]})
    after, counted = job.get("after"), job.get("counted", 0)
    while course is not None:
        batch = list(db.enrollments.find(
            {"courseId": course["_id"], **({"userId": {"$gt": after}} if after else {})},
            {"userId": 1, "status": 1, "completedAt": 1}).sort("userId", 1).limit(BATCH))
        if not batch:
            break
        if not RECOUNTS.renew(db, job, worker_id):
            return None
        rows, stamp, complete = _rows(db, course, batch[0]["userId"], batch[-1]["userId"]), now(), []
        writes, done = [], set()
        for enrollment in batch:
            summary = _summary(course, rows.get(enrollment["userId"], []))
            writes += _writes(course, enrollment["userId"], summary, stamp)
            if summary["percentage"] == 100:
                done.add(enrollment["userId"])
                if enrollment["status"] == "active":
                    complete.append(enrollment["userId"])
        db.enrollments.bulk_write(writes, ordered=False)
        for enrollment in batch:  # the few the recount completes: each stamped and counted alone
            if enrollment.get("completedAt") is None and enrollment["userId"] in done:
                _complete(db, course, enrollment["userId"], stamp)
        _certify(db, course, complete, cert_prefix)
        after, counted = batch[-1]["userId"], counted + len(batch)
        db[RECOUNTS.collection].update_one({"_id": job["_id"], "claimedBy": worker_id},
                                           {"$set": {"after": after, "counted": counted}})
    return counted


def _certify(db, course, user_ids, cert_prefix):
    """Certificates for learners a recount brought to 100 % (those without one yet)."""
    have = set(db.certificates.distinct("userId", {"courseId": course["_id"], "userId": {"$in": user_ids}}))
    for user in db.users.find({"_id": {"$in": [uid for uid in user_ids if uid not in have]}}):
        if certificates.eligible(db, user["_id"], course):
            certificates.create_once(db, user, course, prefix=cert_prefix, actor=audit.SYSTEM)
