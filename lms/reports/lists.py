"""The staff's lists: students with their counts, enrollments, the audit trail; their CSV exports.

Decisions:
- Lists answer in the API's list shape through ``lms.pagination.paginate`` (sorts end with ``_id``, so pages
  never repeat or skip a row). ``limit`` above 100 is a 400 like everywhere else in the API
  (``schema.PAGE``), not silently shortened: a client asking for more gets told, and the CSV
  export is the way to get every row.
- A CSV export is every row matching the filters (``page`` and ``limit`` do not apply),
  streamed in batches of ``BATCH`` rows, so its memory does not grow with the data. The first
  batch is read before the response starts, so an unreachable database is still a clean 503
  rather than a truncated file. It starts with a UTF-8 byte-order mark, which spreadsheet
  programs need to read non-Latin names (Devanagari) correctly. Every export is audited
  (``report.export``): it is the bulk copy of students' personal data.
- Text cells that a spreadsheet would run as a formula (starting with ``= + - @``, a tab or a
  carriage return) get a leading ``'`` (OWASP's advice for CSV injection).
- Per-student counts are computed for one page (or one export batch) of user ids at a time by
  grouping in the database, which uses the ``userId`` prefix of the enrollment and certificate
  indexes; the cost of a page does not grow with the number of enrollments of other students.
- Search ``q`` is one case-insensitive substring of the name or e-mail, escaped with
  ``re.escape``, so ``.``, ``(`` or ``+`` match themselves.
- ``enrollments``: "completions" counts enrollments with ``completedAt`` (every lesson done);
  "certificates" counts issued ones (status ``active``), not pending, failed or revoked.
- Rows name what their ids refer to: an enrollment or submission its student (name and e-mail)
  and course (title), a submission its reviewer, an audit entry its actor. The names are read
  for each page (or export batch) with one lookup per collection, so they are current (a
  renamed student shows under the new name); a deleted one shows as null beside its id.
- Instructors see the enrollments and submissions of the courses they teach
  (``courses.owned_ids``), admins every course's. The students list stays open to all staff: it
  is how a mentor finds a learner; what it shows per student is counts.
"""
import re

from pymongo import ASCENDING as ASC, DESCENDING as DESC

from .. import audit
from ..accounts import users
from ..pagination import paginate
from ..learning import courses as catalog, enrollments, submissions
from ..schema import Integer, Shape, Text
from . import between
from .exports import BATCH, batches, csv_stream, named_export

# Each sort ends with _id, the tie-breaker that keeps pages and exports in one stable order.
STUDENT_SORTS = {"newest": [("createdAt", DESC), ("_id", DESC)], "oldest": [("createdAt", ASC), ("_id", ASC)],
                 "email": [("email", ASC), ("_id", ASC)]}
ENROLLMENT_SORTS = {"newest": [("enrolledAt", DESC), ("_id", DESC)], "oldest": [("enrolledAt", ASC), ("_id", ASC)],
                    "progress": [("progress", DESC), ("enrolledAt", DESC), ("_id", DESC)]}
STUDENT_COLUMNS = ("id", "name", "email", "disabled", "createdAt", "enrollments", "activeEnrollments",
                   "completions", "certificates")
ENROLLMENT_COLUMNS = ("id", "userId", "userName", "userEmail", "courseId", "courseTitle", "status",
                      "progress", "completedLessons", "totalLessons", "enrolledAt", "activatedAt",
                      "completedAt", "lastActivityAt", "lastLessonId", "paymentId")


# --- students ---------------------------------------------------------------------------

def _student_query(q):
    query = {"role": "student"}
    if q:
        pattern = {"$regex": re.escape(q), "$options": "i"}
        query["$or"] = [{"name": pattern}, {"email": pattern}]
    return query


def student_counts(db, user_ids):
    """user id -> its enrollment, completion and certificate counts (zeros included)."""
    counts = {uid: {"enrollments": 0, "activeEnrollments": 0, "completions": 0, "certificates": 0}
              for uid in user_ids}
    for row in db.enrollments.aggregate([
            {"$match": {"userId": {"$in": list(user_ids)}}},
            {"$group": {"_id": "$userId", "enrollments": {"$sum": 1},
                        "activeEnrollments": {"$sum": {"$cond": [{"$eq": ["$status", "active"]}, 1, 0]}},
                        # $ifNull covers both a missing and a null completedAt
                        "completions": {"$sum": {"$cond": [{"$ifNull": ["$completedAt", False]}, 1, 0]}}}}]):
        counts[row.pop("_id")].update(row)
    for row in db.certificates.aggregate([
            {"$match": {"userId": {"$in": list(user_ids)}, "status": "active"}},
            {"$group": {"_id": "$userId", "n": {"$sum": 1}}}]):
        counts[row["_id"]]["certificates"] = row["n"]
    return counts


STUDENT_ROW = users.USER.extend("StudentRow", {
    name: Integer(get=lambda user, context, name=name: context["counts"][name])
    for name in ("enrollments", "activeEnrollments", "completions", "certificates")},
    description="A student with the counts of their enrollments, completions and issued certificates")
PERSON_REF = Shape("PersonRef", {"id": Text(), "name": Text(nullable=True), "email": Text(nullable=True)},
                   description="A person a row refers to (name and e-mail null for system, razorpay, or a deleted user)")
NAMED = {"course": enrollments.COURSE_REF(get=lambda row, context: context["courses"][row["courseId"]]),
         "user": PERSON_REF(get=lambda row, context: context["people"][row["userId"]])}
ENROLLMENT_ROW = enrollments.ENROLLMENT.extend("EnrollmentRow", NAMED,
                                               description="An enrollment with its student and course named")
SUBMISSION_ROW = submissions.SUBMISSION.extend("SubmissionRow", {
    **NAMED, "reviewer": PERSON_REF(get=lambda row, context: context["people"].get(row["reviewedBy"]), nullable=True)},
    description="A submission with its student, course and reviewer named")


def student(user, counts):
    return STUDENT_ROW.dump(user, counts=counts)


def students(db, *, q=None, sort="newest", page=1, limit=20, cursor=None):
    found = paginate(db.users, _student_query(q), STUDENT_SORTS[sort], page, limit, dict,
                     projection={"passwordHash": 0}, cursor=cursor, base=_student_query(None))
    counts = student_counts(db, [u["_id"] for u in found["items"]])
    return {**found, "items": [student(u, counts[u["_id"]]) for u in found["items"]]}


def students_csv(db, actor, *, q=None, sort="newest"):
    audit.record(db, actor, "report.export", "report", "students", q=q, sort=sort)
    cursor = db.users.find(_student_query(q), {"passwordHash": 0}).sort(STUDENT_SORTS[sort]).batch_size(BATCH)

    def rows():
        for batch in batches(cursor):
            counts = student_counts(db, [u["_id"] for u in batch])
            for user in batch:
                shown = student(user, counts[user["_id"]])
                yield [shown[column] for column in STUDENT_COLUMNS]
    return csv_stream(STUDENT_COLUMNS, rows())


# --- enrollments ------------------------------------------------------------------------

def _enrollment_query(courseId=None, userId=None, status=None, start=None, end=None, owned=None):
    query = {k: v for k, v in (("courseId", catalog.within(courseId, owned)), ("userId", userId),
                               ("status", status)) if v}
    return {**query, **between("enrolledAt", start, end)}


def names(db, user_ids=(), course_ids=()):
    """The people and courses rows refer to, by id (every id present; unknown ones with nulls)."""
    user_ids, course_ids = list(set(user_ids) - {None}), list(set(course_ids))
    people = {uid: {"id": uid, "name": None, "email": None} for uid in user_ids}
    people.update({u["_id"]: {"id": u["_id"], "name": u["name"], "email": u["email"]}
                   for u in db.users.find({"_id": {"$in": user_ids}}, {"name": 1, "email": 1})} if user_ids else {})
    titled = {cid: {"_id": cid, "title": None, "slug": None} for cid in course_ids}
    titled.update({c["_id"]: c for c in db.courses.find({"_id": {"$in": course_ids}}, {"title": 1, "slug": 1})}
                  if course_ids else {})
    return {"people": people, "courses": titled}


def named(db, shape, batch, *people_fields):
    """``batch`` dumped as ``shape`` with the names of its people (``userId`` and
    ``people_fields``) and courses."""
    found = names(db, [row.get(f) for row in batch for f in ("userId", *people_fields)],
                  [row["courseId"] for row in batch])
    return [shape.dump(row, found) for row in batch]


def _with_people(db, batch):
    return named(db, ENROLLMENT_ROW, batch)


def enrollment_list(db, actor, *, sort="newest", page=1, limit=20, cursor=None, **filters):
    query = _enrollment_query(**filters, owned=catalog.owned_ids(db, actor))
    found = paginate(db.enrollments, query, ENROLLMENT_SORTS[sort], page, limit, dict, cursor=cursor)
    return {**found, "items": _with_people(db, found["items"])}


def submission_rows(db, actor, *, sort="newest", page=1, limit=20, cursor=None, **filters):
    """The mentors' review queue (``sort="oldest"``: first come, first served)."""
    query = submissions.queue_query(**filters, owned=catalog.owned_ids(db, actor))
    found = paginate(db.submissions, query, [("createdAt", submissions.SORTS[sort])], page, limit, dict,
                     cursor=cursor)
    return {**found, "items": named(db, SUBMISSION_ROW, found["items"], "reviewedBy")}


def enrollments_csv(db, actor, *, sort="newest", **filters):
    query = _enrollment_query(**filters, owned=catalog.owned_ids(db, actor))
    cursor = db.enrollments.find(query).sort(ENROLLMENT_SORTS[sort])
    return named_export(db, actor, "enrollments", cursor, filters, _with_people, ENROLLMENT_COLUMNS, sort=sort)


# --- the audit trail --------------------------------------------------------------------

AUDIT_SORT = [("timestamp", DESC), ("_id", DESC)]
AUDIT_ROW = audit.AUDIT_ENTRY.extend("AuditRow", {
    "actor": PERSON_REF(get=lambda entry, context: context["people"][entry["actorId"]])},
    description="An audit entry with its actor named")


def audit_entries(db, *, page=1, limit=20, cursor=None, start=None, end=None, **filters):
    """Audit entries, newest first; ``filters`` are exact matches on action, actorId,
    targetType, targetId and requestId."""
    query = {**{k: v for k, v in filters.items() if v}, **between("timestamp", start, end)}
    found = paginate(db.auditLogs, query, AUDIT_SORT, page, limit, dict, cursor=cursor)
    people = names(db, [entry["actorId"] for entry in found["items"]])
    return {**found, "items": [AUDIT_ROW.dump(entry, people) for entry in found["items"]]}
