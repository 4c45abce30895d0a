"""Project submissions: a student's work for a course, and a mentor's decision on it.

Decisions:
- Only a learner with an *active* enrollment may submit (403 ``not_enrolled``), whatever their
  role. Every submission is a new document: resubmitting keeps the history, and each one gets
  its own decision. Courses without ``requiresProject`` accept submissions too (for feedback);
  approving one of those changes nothing about the certificate.
- Files are checked one by one as the request is parsed (``accept_file``: at most
  ``MAX_FILES``, each at most ``MAX_FILE_BYTES``, not empty, an allowed type by its bytes), so
  a request is refused at its first bad file and nothing of it is stored. Only then are the
  files stored, and if storing one fails, or the document cannot be written, the ones already
  stored are deleted again: no orphan files, no document without its files.
- Keys are ``submissions/<submission id>/<128 random bits>.<extension of the sniffed type>``;
  the client's file name is only shown (see ``lms.files.display_name``). The files are served
  to anyone holding the URL (``/files/…`` locally, Cloudinary's URL in production): ideally
  they would be private to the student and staff, but an unguessable 128-bit key is accepted
  as the access control for now. The URL is only ever shown to the student and to staff.
- A decision is final and made once: the update is guarded by ``status: "pending"``, so two
  mentors deciding at the same moment produce one decision and one 409 ``already_reviewed``.
  Staff cannot decide on their own submissions, and instructors only on those of the courses
  they teach (``courses.require_editor``); admins on every course's.
- A decision is a status (``approved``/``rejected``) and the mentor's words are
  ``mentorComments``, the names the submission shows them under. The student is told at once:
  an in-app notification (``submission.reviewed``) and a mail with the decision, grade and
  comments. They are sent after the decision is stored; a failure to queue them does not undo it.
- Approval calls ``progress.certify_if_complete``, which creates the certificate record when
  every lesson is done (exactly once, by the unique index). It does so only while the
  student's enrollment is active, the same rule as completing a lesson; a refunded student's
  approval waits until they enroll again and complete a lesson.
"""
import logging
import secrets
from collections import namedtuple

from pymongo import ASCENDING as ASC, DESCENDING as DESC

from .. import audit
from ..accounts import notifications
from ..adapters.mail import messages, queue as mail
from ..db import find_one_and_update, new_id, now
from ..pagination import paginate
from ..errors import (BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, StorageError,
                      UnsupportedMediaType, ValidationError)
from ..schema import Boolean, Integer, ListOf, OneOf, Shape, Text, Timestamp
from ..adapters.storage import kinds as files
from . import courses, enrollments, progress

log = logging.getLogger("lms.submissions")

MAX_FILES = 5
MAX_FILE_BYTES = 10 * 1024 * 1024
# A whole multipart request: the files plus room for the form fields and part headers.
MAX_UPLOAD_BYTES = MAX_FILES * MAX_FILE_BYTES + 1024 * 1024
STATUSES = ("pending", "approved", "rejected")
DECIDED = ("approved", "rejected")
DECISIONS = {"approve": "approved", "reject": "rejected"}  # the deprecated names of the decisions
SORTS = {"newest": DESC, "oldest": ASC}

Upload = namedtuple("Upload", "name data content_type extension")


SUBMITTED_FILE = Shape("SubmittedFile", {
    "name": Text(description="The uploader's file name, made safe to show"), "url": Text(format="uri"),
    "size": Integer(), "contentType": Text(description="As judged from the file's bytes")})
# The only shape in which a submission leaves this module (storage keys stay inside).
SUBMISSION = Shape("Submission", {
    "id": Text("_id"), "userId": Text(), "courseId": Text(), "submissionUrl": Text(nullable=True, format="uri"),
    "files": ListOf(SUBMITTED_FILE), "status": OneOf(STATUSES), "grade": Text(nullable=True),
    "mentorComments": Text(nullable=True), "verified": Boolean(), "reviewedBy": Text(nullable=True),
    "reviewedAt": Timestamp(nullable=True), "createdAt": Timestamp()})
public = SUBMISSION.dump


def accept_file(index, filename, stream):
    """The ``index``-th file of a request as an ``Upload``, read from ``stream``, or the error
    that refuses the request: 400 ``too_many_files``, 413 ``file_too_large``, 400 ``empty_file``
    or 415 ``unsupported_file_type``."""
    field, name = f"files.{index}", files.display_name(filename)
    if index >= MAX_FILES:
        raise BadRequest(f"At most {MAX_FILES} files per submission", code="too_many_files",
                         fields={"files": f"at most {MAX_FILES} files"})
    data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise PayloadTooLarge(f"{name} is larger than {MAX_FILE_BYTES // 2 ** 20} MB",
                              code="file_too_large", fields={field: "is larger than 10 MB"})
    if not data:
        raise BadRequest(f"{name} is empty", code="empty_file", fields={field: "is empty"})
    kind = files.sniff(data)
    if kind is None:
        raise UnsupportedMediaType(f"{name} is not a PDF, ZIP, PNG, JPEG or UTF-8 text file",
                                   code="unsupported_file_type",
                                   fields={field: "must be a PDF, ZIP, PNG, JPEG or UTF-8 text file"})
    return Upload(name, data, *kind)


def may_submit(db, user_id, course_id):
    """Raise unless ``user_id`` may submit work for ``course_id``: 404 for an unknown course,
    403 ``not_enrolled`` without an active enrollment. Uploads check it before their files."""
    courses.get(db, course_id)
    enrollments.require_active(db, user_id, course_id)


def submit(db, store, user_id, course_id, submission_url, uploads, actor):
    """Store ``uploads`` (from ``accept_file``) in ``store`` and record a pending submission;
    returns it. A storage failure deletes what was stored and re-raises: nothing is saved."""
    may_submit(db, user_id, course_id)
    if not submission_url and not uploads:
        raise ValidationError({"submissionUrl": "give a submission URL or at least one file"})
    submission_id, stored = new_id(), []
    submission = {"_id": submission_id, "userId": user_id, "courseId": course_id,
                  "submissionUrl": submission_url or None, "files": stored, "status": "pending",
                  "grade": None, "mentorComments": None, "verified": False, "reviewedBy": None,
                  "reviewedAt": None, "createdAt": now()}
    try:
        for upload in uploads:
            key = f"submissions/{submission_id}/{secrets.token_hex(16)}.{upload.extension}"
            url = store.put(key, upload.data, upload.content_type)
            stored.append({"name": upload.name, "url": url, "size": len(upload.data),
                           "contentType": upload.content_type, "key": key})
        db.submissions.insert_one(submission)
    except StorageError as exc:
        _discard(store, stored)
        log.error("submission %s: storing a file failed: %s", submission_id, exc)
        raise
    except BaseException:
        _discard(store, stored)
        raise
    audit.record(db, actor, "submission.create", "submission", submission_id, courseId=course_id,
                 files=len(stored), submissionUrl=submission["submissionUrl"])
    return submission


def _discard(store, stored):
    for entry in stored:
        try:
            store.delete(entry["key"])
        except StorageError as exc:
            log.error("orphaned file %s (delete failed: %s)", entry["key"], exc)


def mine(db, user_id, course_id, page, limit, cursor=None):
    query = {"userId": user_id}
    if course_id:
        query["courseId"] = course_id
    return paginate(db.submissions, query, [("createdAt", DESC)], page, limit, public, cursor=cursor, few=True)


def queue_query(*, status=None, courseId=None, userId=None, owned=None):
    """The filter of the mentors' queue; ``owned`` (course ids, None for all) limits it to an
    instructor's courses."""
    return {name: value for name, value in (("status", status), ("courseId", courses.within(courseId, owned)),
                                            ("userId", userId)) if value}


def review(db, submission_id, status, grade, comments, actor, *, cert_prefix):
    """Approve or reject (``status``) a pending submission, once. Returns (submission,
    certificate or None, created) where the certificate is one this approval created."""
    current = db.submissions.find_one({"_id": submission_id})
    if current is None:
        raise NotFound("Submission not found")
    if current["userId"] == actor.id:
        raise Forbidden("You cannot review your own submission", code="own_submission")
    course = db.courses.find_one({"_id": current["courseId"]})
    if course:
        courses.require_editor(course, actor)
    elif actor.role not in courses.PRIVILEGED:
        raise Forbidden("Only admins may review the submissions of a deleted course", code="not_course_instructor")
    submission = find_one_and_update(
        db.submissions, {"_id": submission_id, "status": "pending"},
        {"$set": {"status": status, "verified": status == "approved", "grade": grade or None,
                  "mentorComments": comments or None, "reviewedBy": actor.id, "reviewedAt": now()}}, after=True)
    if submission is None:
        current = db.submissions.find_one({"_id": submission_id})
        raise Conflict(f"This submission was already {current['status']}", code="already_reviewed",
                       extra={"submission": public(current)})
    audit.record(db, actor, f"submission.{'approve' if status == 'approved' else 'reject'}", "submission",
                 submission_id, userId=submission["userId"], courseId=submission["courseId"], grade=submission["grade"])
    student = db.users.find_one({"_id": submission["userId"]})
    # The certificate first: what the approval earns must not hang on the message about it.
    certified = (_certify(db, student, course, actor, cert_prefix) if status == "approved" and student and course
                 else (None, False))
    if student:
        _tell(db, student, submission, course)
    return (submission, *certified)


def _tell(db, student, submission, course):
    """The student's notification and mail about the decision."""
    title = " ".join((course or {}).get("title", "your course").split())
    outcome = "was approved" if submission["status"] == "approved" else "needs more work"
    grade = f"Grade: {submission['grade']}" if submission["grade"] else ""
    comments = submission["mentorComments"] or "No comments."
    notifications.add(db, student["_id"], "submission.reviewed", f"Your project {outcome}",
                      " · ".join(part for part in (title, grade, comments[:500]) if part))
    message = messages.render("submission_reviewed", name=student["name"], course=title, outcome=outcome,
                              grade=grade, comments=comments)
    mail.enqueue(db, student["email"], message, kind="submission")


def _certify(db, student, course, actor, cert_prefix):
    try:
        enrollments.require_active(db, student["_id"], course["_id"])
    except Forbidden:
        return None, False  # no longer enrolled: see the module docstring
    _, cert, created = progress.certify_if_complete(db, student, course["_id"], actor, cert_prefix=cert_prefix)
    return (cert, True) if created else (None, False)
