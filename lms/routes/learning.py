"""Enrollment, lesson access and progress.

Lessons: staff read any; a learner with an active enrollment reads every lesson of their
course whatever its status (an archived course stays theirs); anyone else reads the preview
lessons of a published or archived course. A draft is a 404 to everyone but staff and its
learners.
"""
from ..errors import NotFound, Unauthenticated
from ..learning import courses, enrollments, progress
from ..payments import Terms, checkout
from ..schema import PAGE, Id, Obj, Query, Str

ENROLL = Obj(courseId=Id(), paymentMode=Str(choices=checkout.PAYMENT_MODES, required=False))
COMPLETE = Obj(courseId=Id(), moduleId=Str(min=1, max=64), lessonId=Str(min=1, max=64))
PAGED = Query(**PAGE)


def enroll(db, settings, razorpay, user, body, actor):
    enrollment, order = checkout.enroll(db, razorpay, user["id"], body["courseId"], body.get("paymentMode"),
                                        actor, allow_simulated=settings.allow_simulated_payments,
                                        terms=Terms.of(settings))
    reply = {"_status": 201 if enrollment["status"] == "active" else 200,
             "enrollment": enrollments.public(enrollment)}
    if order:
        reply["order"] = order
    return reply


def my_enrollments(db, user, query):
    return enrollments.mine(db, user["id"], query["page"], query["limit"], query.get("cursor"))


def lesson(db, slug, lessonId, user):
    staff = bool(user and user["role"] != "student")
    course = courses.get_by_slug(db, slug, include_drafts=True)
    learner = bool(user) and enrollments.is_active(db, user["id"], course["_id"])
    if course["status"] == "draft" and not (staff or learner):
        raise NotFound("Course not found")
    found = courses.find_lesson(course, None, lessonId)
    if not found:
        raise NotFound("Lesson not found")
    module, item = found
    if not (item["preview"] or staff or learner):
        if user is None:
            raise Unauthenticated("Sign in to open this lesson")
        raise enrollments.not_enrolled()
    return {"lesson": courses.LESSON.dump({**item, "moduleId": module["id"]})}


def complete_lesson(db, settings, user, body, actor):
    me = db.users.find_one({"_id": user["id"]})
    summary, cert, created = progress.complete_lesson(db, me, body["courseId"], body["moduleId"],
                                                      body["lessonId"], actor, cert_prefix=settings.cert_prefix)
    reply = {"progress": summary, "certificateCreated": created}
    if created:
        reply["certId"] = cert["certId"]
    return reply


def course_progress(db, user, courseId):
    return {"progress": progress.of(db, user["id"], courseId)}
