"""Enrollment, lesson access, progress and the student's certificates."""
from .. import certificates, courses, enrollments, progress
from ..errors import NotFound, Unauthenticated
from ..schema import PAGE, Id, Obj, Query, Str

ENROLL = Obj(courseId=Id(), paymentMode=Str(choices=enrollments.PAYMENT_MODES, required=False))
COMPLETE = Obj(courseId=Id(), moduleId=Str(min=1, max=64), lessonId=Str(min=1, max=64))
PAGED = Query(**PAGE)


def enroll(runtime, user, body, actor):
    enrollment, order = enrollments.enroll(runtime.db, runtime.settings, user["id"], body["courseId"],
                                           body.get("paymentMode"), actor)
    reply = {"_status": 201 if enrollment["status"] == "active" else 200,
             "enrollment": enrollments.public(enrollment)}
    if order:
        reply["order"] = order
    return reply


def my_enrollments(db, user, query):
    return enrollments.mine(db, user["id"], query["page"], query["limit"])


def lesson(db, slug, lessonId, user):
    course = courses.get_by_slug(db, slug, include_unpublished=bool(user and user["role"] != "student"))
    found = courses.find_lesson(course, None, lessonId)
    if not found:
        raise NotFound("Lesson not found")
    module, item = found
    if not item.get("preview"):
        if user is None:
            raise Unauthenticated("Sign in to open this lesson")
        if user["role"] == "student":
            enrollments.require_active(db, user["id"], course["_id"])
    return {"lesson": {"id": item["id"], "moduleId": module["id"], "title": item["title"],
                       "preview": bool(item.get("preview")), "durationMin": item.get("durationMin", 0),
                       "content": item.get("content", ""), "videoUrl": item.get("videoUrl")}}


def complete_lesson(runtime, user, body, actor):
    db = runtime.db
    me = db.users.find_one({"_id": user["id"]})
    summary, cert, created = progress.complete_lesson(db, runtime.settings, me, body["courseId"],
                                                      body["moduleId"], body["lessonId"], actor)
    reply = {"progress": summary, "certificateCreated": created}
    if created:
        reply["certId"] = cert["certId"]
        if runtime.worker:  # render it now rather than at the worker's next tick
            runtime.worker.wake()
    return reply


def course_progress(db, user, courseId):
    return {"progress": progress.of(db, user["id"], courseId)}


def my_certificates(runtime, user):
    return {"items": certificates.mine(runtime.db, user["id"], runtime.settings.public_url)}
