"""Enrollments: who may learn what.

One enrollment per (user, course), guaranteed by a unique index. It goes pending -> active ->
refunded (or cancelled), each step one guarded single-document update; how it is paid for is
``lms.payments`` (``checkout`` enrolls, ``ledger`` activates and refunds), which this module
does not know. Each step that changes an enrollment's status tells the day counters
(``reports.stats``), after its guarded write landed and only then.
"""
from pymongo.errors import DuplicateKeyError

from .. import audit
from ..db import find_one_and_update, new_id, now
from ..pagination import paginate
from ..errors import Conflict, Forbidden, NotFound
from ..reports import stats
from ..schema import Integer, OneOf, Shape, Text, Timestamp
from . import courses

STATUSES = ("pending", "active", "cancelled", "refunded")


COURSE_REF = Shape("CourseRef", {"id": Text("_id"), "title": Text(nullable=True), "slug": Text(nullable=True)},
                   description="The course a record is about (title and slug are null once it is deleted)")
ENROLLMENT = Shape("Enrollment", {
    "id": Text("_id"), "userId": Text(), "courseId": Text(), "status": OneOf(STATUSES),
    "paymentId": Text(nullable=True), "progress": Integer(default=0, description="0 to 100, rounded down"),
    "completedLessons": Integer(default=0), "totalLessons": Integer(default=0), "enrolledAt": Timestamp(),
    "activatedAt": Timestamp(nullable=True),
    "completedAt": Timestamp(nullable=True, description="When every lesson was first done (kept if the course grows)"),
    "lastLessonId": Text(nullable=True, description="The lesson completed most recently"),
    "lastActivityAt": Timestamp(nullable=True),
    "course": COURSE_REF(get=lambda enrollment, context: context.get("course"), optional=True),
    "nextLesson": courses.NEXT_LESSON(get=lambda enrollment, context: context.get("next"), optional=True,
                                      description="Where to continue (the learner's own list; absent when done)")})


def public(enrollment, course=None, next_lesson=None):
    """The enrollment; with ``course`` (a course document) it names the course too."""
    return ENROLLMENT.dump(enrollment, course=course, next=next_lesson)


def open_pending(db, user_id, course):
    """Insert a pending enrollment, or take over an unfinished or ended one; 409 when active."""
    stamp = now()
    fresh = {"_id": new_id(), "userId": user_id, "courseId": course["_id"], "status": "pending",
             "paymentId": None, "progress": 0, "completedLessons": 0,
             "totalLessons": courses.lesson_count(course), "enrolledAt": stamp, "activatedAt": None,
             "completedAt": None, "updatedAt": stamp}
    try:
        db.enrollments.insert_one(fresh)
        enrollment = fresh
        stats.enrolled(db, fresh)
    except DuplicateKeyError:
        # Taking over an ended enrollment is one guarded update, so two racing requests cannot
        # both do it.
        changes = {"status": "pending", "paymentId": None, "updatedAt": stamp}
        enrollment = _move(db, {"userId": user_id, "courseId": course["_id"],
                                "status": {"$in": ["cancelled", "refunded"]}}, changes)
        if enrollment is None:
            enrollment = db.enrollments.find_one({"userId": user_id, "courseId": course["_id"]})
            if enrollment is None or enrollment["status"] == "active":
                raise Conflict("You are already enrolled in this course", code="already_enrolled",
                               extra={"enrollment": public(enrollment) if enrollment else None})
    if not db.courses.count_documents({"_id": course["_id"]}, limit=1):
        if db.enrollments.delete_one({"_id": enrollment["_id"], "status": "pending"}).deleted_count:  # deleted meanwhile
            stats.enrolled(db, {**enrollment, "status": "pending"}, -1)
        raise NotFound("Course not found")
    return enrollment


def _move(db, guard, changes):
    """One guarded status change: the enrollment after it, or None when the guard missed. The
    before-image names the status the day counters move the enrollment from."""
    before = find_one_and_update(db.enrollments, guard, {"$set": changes})
    if before is None:
        return None
    stats.enrollment_moved(db, before, before["status"], changes["status"])
    return {**before, **changes}


def activate(db, enrollment_id, payment_id, actor):
    """pending -> active, once; a second activation (webhook after verify) changes nothing. A
    refunded enrollment is activated too when another payment of it stands (``lms.payments``)."""
    return activate_once(db, enrollment_id, payment_id, actor)[0]


def activate_once(db, enrollment_id, payment_id, actor):
    """Like ``activate``; also says whether this call was the one that activated it."""
    stamp = now()
    enrollment = _move(db, {"_id": enrollment_id, "status": {"$in": ["pending", "refunded"]}},
                       {"status": "active", "paymentId": payment_id, "activatedAt": stamp, "updatedAt": stamp})
    if enrollment:
        audit.record(db, actor, "enrollment.activate", "enrollment", enrollment_id, paymentId=payment_id)
        return enrollment, True
    return db.enrollments.find_one({"_id": enrollment_id}), False


def attach_payment(db, enrollment_id, expected_payment_id, payment_id):
    """Point a pending enrollment at the Razorpay order row that is to pay for it, unless it no
    longer names ``expected_payment_id`` (another request attached its order first): a
    compare-and-set, so an enrollment has one open order however many requests race."""
    return find_one_and_update(
        db.enrollments, {"_id": enrollment_id, "status": "pending", "paymentId": expected_payment_id},
        {"$set": {"paymentId": payment_id, "updatedAt": now()}}, after=True)


def refund(db, enrollment_id, payment_id, actor):
    """-> refunded, once, when ``payment_id`` is the payment the enrollment rests on: access to the
    lessons ends (``require_active``); progress and issued certificates stay, as earned. A refund
    of another payment (a second order paid by mistake) leaves the enrollment as it is."""
    stamp = now()
    enrollment = _move(db, {"_id": enrollment_id, "paymentId": payment_id, "status": {"$in": ["active", "pending"]}},
                       {"status": "refunded", "refundedAt": stamp, "updatedAt": stamp})
    if enrollment:
        audit.record(db, actor, "enrollment.refund", "enrollment", enrollment_id, paymentId=payment_id)
    return enrollment


def rest_on(db, enrollment_id, old_payment_id, payment_id, actor):
    """An active enrollment whose payment ``old_payment_id`` no longer grants access rests on
    ``payment_id`` (another payment of it) from now on; once."""
    enrollment = find_one_and_update(
        db.enrollments, {"_id": enrollment_id, "status": "active", "paymentId": old_payment_id},
        {"$set": {"paymentId": payment_id, "updatedAt": now()}}, after=True)
    if enrollment:
        audit.record(db, actor, "enrollment.payment_changed", "enrollment", enrollment_id,
                     fromPaymentId=old_payment_id, paymentId=payment_id)
    return enrollment


def is_active(db, user_id, course_id):
    return db.enrollments.count_documents({"userId": user_id, "courseId": course_id, "status": "active"}, limit=1) > 0


def require_active(db, user_id, course_id):
    enrollment = db.enrollments.find_one({"userId": user_id, "courseId": course_id, "status": "active"})
    if not enrollment:
        raise not_enrolled()
    return enrollment


def not_enrolled():
    return Forbidden("Enroll in this course first", code="not_enrolled")


def mine(db, user_id, page, limit, cursor=None):
    """A page of the user's enrollments, each naming its course and the lesson to continue with."""
    listing = paginate(db.enrollments, {"userId": user_id}, [("enrolledAt", -1)], page, limit, lambda e: e,
                         cursor=cursor, few=True)
    found = listing["items"]
    ids = [e["courseId"] for e in found]
    shown = {c["_id"]: c for c in db.courses.find({"_id": {"$in": ids}}, {"title": 1, "slug": 1, "modules.id": 1,
                                                                          "modules.lessons.id": 1,
                                                                          "modules.lessons.title": 1})}
    done = {}
    # All of the user's rows, on the prefix of their unique index: a two-field $in may cost a
    # collection scan on some servers.
    for row in db.progress.find({"userId": user_id}, {"courseId": 1, "lessonId": 1}):
        done.setdefault(row["courseId"], set()).add(row["lessonId"])
    listing["items"] = [
        public(e, shown.get(e["courseId"], {"_id": e["courseId"], "title": None, "slug": None}),
               courses.next_lesson(shown[e["courseId"]], done.get(e["courseId"], set())) if e["courseId"] in shown
               else None)
        for e in found]
    return listing
