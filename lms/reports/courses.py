"""One course's reports for its instructors and admins: the roster and the numbers.

Decisions:
- Both need the right to change the course (``courses.require_editor``): an instructor sees
  these for the courses they teach, an admin for every course.
- The roster is the course's enrollments, one row per student: the enrollment's stored numbers
  (progress, last activity: see ``lms.learning.progress``), the student named, their latest
  submission's state (with how many they made) and their certificate (``certId`` and stored
  status). Sorted like the enrollment list, or by last activity (``activity``, never-active
  learners last). The CSV is every row, streamed and audited like every export.
- The numbers cover the course's whole life. ``learners`` are enrollments that were ever active
  (paid or free; a refunded learner was one); ``completionRate`` is completions over learners
  (null without learners); the time to complete runs from activation (enrollment, for rows
  without one) to ``completedAt``, its median taken in the database by sorting, for even
  counts the mean of the two middle values. Revenue is captured minus refunded per currency,
  as in the site-wide analytics. Per lesson, in course order: how many learners completed it
  and ``dropOff``, how many fewer than the lesson before (every learner, before the first);
  negative when learners skip ahead.
"""
from pymongo import DESCENDING as DESC

from .. import audit
from ..certificates import records as certificates
from ..learning import courses, enrollments, submissions
from ..pagination import paginate
from ..schema import Integer, ListOf, Number, OneOf, Shape, Text, Timestamp
from . import analytics, lists
from .exports import BATCH, batches, csv_stream

SORTS = {**lists.ENROLLMENT_SORTS, "activity": [("lastActivityAt", DESC), ("enrolledAt", DESC), ("_id", DESC)]}
COLUMNS = ("id", "userId", "userName", "userEmail", "status", "progress", "completedLessons", "totalLessons",
           "enrolledAt", "completedAt", "lastActivityAt", "lastLessonId", "submissionStatus", "submissions",
           "certificateId", "certificateStatus")

SUBMISSION_STATE = Shape("SubmissionState", {
    "status": OneOf(submissions.STATUSES, description="Of the latest submission"), "submissions": Integer(),
    "lastSubmittedAt": Timestamp()})
CERTIFICATE_REF = Shape("CertificateRef", {"certId": Text(), "status": OneOf(certificates.STATUSES)})
ROSTER_ROW = lists.ENROLLMENT_ROW.extend("RosterRow", {
    "submission": SUBMISSION_STATE(get=lambda e, context: context["submitted"].get(e["userId"]), nullable=True),
    "certificate": CERTIFICATE_REF(get=lambda e, context: context["certified"].get(e["userId"]), nullable=True)},
    description="A student of a course: their enrollment, latest submission and certificate")
LESSON_FUNNEL = Shape("LessonFunnel", {
    "lessonId": Text(), "moduleId": Text(), "title": Text(), "completed": Integer(description="Learners who did it"),
    "dropOff": Integer(description="How many fewer than the lesson before (every learner, before the first)")})
COURSE_ANALYTICS = Shape("CourseAnalytics", {
    "course": enrollments.COURSE_REF(), "enrollments": analytics.ENROLLMENT_COUNTS(),
    "learners": Integer(description="Enrollments that were ever active"), "completions": Integer(),
    "completionRate": Number(nullable=True, description="Completions over learners, 0 to 1"),
    "medianSecondsToComplete": Integer(nullable=True, description="From activation to completion"),
    "revenue": ListOf(analytics.MONEY), "lessons": ListOf(LESSON_FUNNEL)},
    description="A course's numbers over its whole life")


# --- the roster -------------------------------------------------------------------------

def _query(course_id, status):
    return {"courseId": course_id, **({"status": status} if status else {})}


def _rows(db, course_id, batch):
    users = [e["userId"] for e in batch]
    found = lists.names(db, users, [course_id])
    found["submitted"] = {row.pop("_id"): row for row in db.submissions.aggregate([
        {"$match": {"courseId": course_id, "userId": {"$in": users}}}, {"$sort": {"createdAt": 1, "_id": 1}},
        {"$group": {"_id": "$userId", "status": {"$last": "$status"}, "submissions": {"$sum": 1},
                    "lastSubmittedAt": {"$last": "$createdAt"}}}])}
    found["certified"] = {c["userId"]: c for c in db.certificates.find(
        {"courseId": course_id, "userId": {"$in": users}}, {"userId": 1, "certId": 1, "status": 1})}
    return [ROSTER_ROW.dump(e, found) for e in batch]


def roster(db, actor, course_id, *, status=None, sort="newest", page=1, limit=20, cursor=None):
    courses.require_editor(courses.get(db, course_id), actor)
    found = paginate(db.enrollments, _query(course_id, status), SORTS[sort], page, limit, dict, cursor=cursor)
    return {**found, "items": _rows(db, course_id, found["items"])}


def roster_csv(db, actor, course_id, *, status=None, sort="newest"):
    courses.require_editor(courses.get(db, course_id), actor)
    audit.record(db, actor, "report.export", "report", "roster", courseId=course_id, status=status, sort=sort)
    cursor = db.enrollments.find(_query(course_id, status)).sort(SORTS[sort]).batch_size(BATCH)

    def rows():
        for batch in batches(cursor):
            for row in _rows(db, course_id, batch):
                submission, cert = row["submission"] or {}, row["certificate"] or {}
                flat = {**row, "userName": row["user"]["name"], "userEmail": row["user"]["email"],
                        "submissionStatus": submission.get("status"), "submissions": submission.get("submissions", 0),
                        "certificateId": cert.get("certId"), "certificateStatus": cert.get("status")}
                yield [flat[column] for column in COLUMNS]
    return csv_stream(COLUMNS, rows())


# --- the numbers ------------------------------------------------------------------------

def numbers(db, actor, course_id):
    course = courses.require_editor(courses.get(db, course_id), actor)
    [counts] = db.enrollments.aggregate([{"$match": {"courseId": course_id}}, {"$facet": {
        "statuses": [{"$group": {"_id": "$status", "n": {"$sum": 1}}}],
        "learners": [{"$match": {"activatedAt": {"$type": "date"}}}, {"$count": "n"}],
        "completions": [{"$match": {"completedAt": {"$type": "date"}}}, {"$count": "n"}]}}])
    by_status = {row["_id"]: row["n"] for row in counts["statuses"]}
    learners, completions = (counts[key][0]["n"] if counts[key] else 0 for key in ("learners", "completions"))
    return COURSE_ANALYTICS.dump({
        "course": course,
        "enrollments": {**{s: by_status.get(s, 0) for s in enrollments.STATUSES}, "total": sum(by_status.values())},
        "learners": learners, "completions": completions,
        "completionRate": round(completions / learners, 4) if learners else None,
        "medianSecondsToComplete": _median_seconds(db, course_id, completions),
        "revenue": analytics.revenue_of(db, {"courseId": course_id}), "lessons": _funnel(db, course, learners)})


def _median_seconds(db, course_id, n):
    if not n:
        return None
    middle = list(db.enrollments.aggregate([
        {"$match": {"courseId": course_id, "completedAt": {"$type": "date"}}},
        {"$project": {"ms": {"$subtract": ["$completedAt", {"$ifNull": ["$activatedAt", "$enrolledAt"]}]}}},
        {"$sort": {"ms": 1, "_id": 1}}, {"$skip": (n - 1) // 2}, {"$limit": 2 - n % 2}]))
    return round(sum(row["ms"] for row in middle) / len(middle) / 1000)




def _funnel(db, course, learners):
    done = {row["_id"]: row["n"] for row in db.progress.aggregate([  # rows of removed lessons are never read below
        {"$match": {"courseId": course["_id"]}}, {"$group": {"_id": "$lessonId", "n": {"$sum": 1}}}])}
    funnel, before = [], learners
    for module in course["modules"]:
        for lesson in module["lessons"]:
            completed = done.get(lesson["id"], 0)
            funnel.append({"lessonId": lesson["id"], "moduleId": module["id"], "title": lesson["title"],
                           "completed": completed, "dropOff": before - completed})
            before = completed
    return funnel
