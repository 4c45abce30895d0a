"""Courses: reading the catalog, who owns a course, and how a course is shown.

A course holds its modules and lessons inside one document, so every edit is one atomic
single-document write and a reader never sees half a course. Changing courses is
``lms.learning.authoring``; this module only reads them.

Decisions:
- Statuses (the lifecycle table is in the README): the catalog (``search`` with
  ``status="published"``, ``facets``) lists published courses only. A course page stays at its
  URL once archived, saying ``status: archived``, so certificates, bookmarks and learners' lists
  keep working; a draft is a 404 to everyone but staff.
- Ownership: ``instructors`` holds user ids. Admins (and the system) may change every course,
  an instructor only those that name them (``require_editor``: 403 ``not_course_instructor``).
  Reading stays open to all staff: drafts to check them, any lesson to review a project.
- ``version`` is the course's ``updatedAt`` in milliseconds, which every write moves strictly
  forward: it is the ETag editors send back in ``If-Match``, and the version stored progress
  is counted against (``lms.learning.progress``).
- Search matches each word of ``q`` as an escaped, case-insensitive substring of the title or
  description. A text index would rank, but it matches whole stemmed words only and behaves
  differently across servers; a scan of the published courses is fine at catalog sizes.
- Facet counts are taken over the courses the other filters select (choosing a level narrows
  the tag counts), each facet's values by count, then value.
- Sorts: ``newest``/``oldest``, and ``title``, ``price``, ``duration`` ascending or, with a
  leading ``-``, descending. Title sorts use ``titleKey`` (the case-folded title) and duration
  sorts ``totalDurationMin``, both derived at every write and never shown.
- Instructors are shown by id and their current name, read for each page (a rename shows at once).
- A thumbnail is shown at one stable address per course (``thumbnailUrl``: the route that
  redirects to wherever storage keeps it) with the upload's token as ``v``, so an image can be
  cached for good and a new upload is a new URL.
"""
import re

from pymongo import ASCENDING as ASC, DESCENDING as DESC

from ..pagination import paginate
from ..errors import Forbidden, NotFound
from ..schema import Boolean, Integer, ListOf, OneOf, Shape, Text, Timestamp

STATUSES = ("draft", "published", "archived")
LEVELS = ("beginner", "intermediate", "advanced")
SORTS = {"newest": [("createdAt", DESC)], "oldest": [("createdAt", ASC)],
         "title": [("titleKey", ASC)], "-title": [("titleKey", DESC)],
         "price": [("price", ASC)], "-price": [("price", DESC)],
         "duration": [("totalDurationMin", ASC)], "-duration": [("totalDurationMin", DESC)]}
FACETS = {"tags": "tags", "levels": "level", "categories": "category", "languages": "language"}
PRIVILEGED = ("admin", "system")  # may change any course


# --- reading ---------------------------------------------------------------------------

def get(db, course_id):
    """The course with this id, any status. Ids that are not ours simply match nothing: 404."""
    course = db.courses.find_one({"_id": course_id})
    if not course:
        raise NotFound("Course not found")
    return course


def get_by_slug(db, slug, include_drafts=False):
    """A published or archived course (drafts too with ``include_drafts``: staff)."""
    course = db.courses.find_one({"slug": slug})
    if not course or (course["status"] == "draft" and not include_drafts):
        raise NotFound("Course not found")
    return course


def catalog_query(*, q=None, tag=None, free=None, level=None, category=None, language=None, instructor=None,
                  status=None):
    query = {name: value for name, value in (("status", status), ("tags", tag), ("level", level),
                                             ("category", category), ("language", language),
                                             ("instructors", instructor)) if value}
    if free is not None:
        query["price"] = 0 if free else {"$gt": 0}
    words = (q or "").split()
    if words:
        query["$and"] = [{"$or": [{field: {"$regex": re.escape(word), "$options": "i"}}
                                  for field in ("title", "description")]} for word in words]
    return query


def search(db, urls, *, sort="newest", page=1, limit=20, cursor=None, **filters):
    """One page of course cards; the pages of one question never repeat or skip a course."""
    # Cards show no lesson content, so none is read.
    found = paginate(db.courses, catalog_query(**filters), SORTS[sort], page, limit, dict,
                     projection={"modules.lessons.content": 0}, cursor=cursor)
    names = instructor_names(db, found["items"])
    return {**found, "items": [card(course, urls, names) for course in found["items"]]}


def facets(db, **filters):
    """How many courses the filters select, and for each facet its values with their counts."""
    groups = {name: ([{"$unwind": "$" + field}] if field == "tags" else [{"$match": {field: {"$type": "string"}}}])
              + [{"$group": {"_id": "$" + field, "count": {"$sum": 1}}}, {"$sort": {"count": -1, "_id": 1}}]
              for name, field in FACETS.items()}
    [found] = db.courses.aggregate([{"$match": catalog_query(**filters)},
                                    {"$facet": {**groups, "total": [{"$count": "n"}]}}])
    total = found.pop("total")
    return {"total": total[0]["n"] if total else 0,
            "facets": {name: [{"value": row["_id"], "count": row["count"]} for row in rows]
                       for name, rows in found.items()}}


def lessons(course):
    return [lesson for module in course.get("modules", []) for lesson in module["lessons"]]


def lesson_ids(course):
    return [lesson["id"] for lesson in lessons(course)]


def lesson_count(course):
    return len(lessons(course))


def find_lesson(course, module_id, lesson_id):
    """(module, lesson) when the lesson is in that module of the course (in any module when
    ``module_id`` is None), else None."""
    for module in course.get("modules", []):
        if module_id in (None, module["id"]):
            for lesson in module["lessons"]:
                if lesson["id"] == lesson_id:
                    return module, lesson
    return None


def next_lesson(course, done):
    """The first lesson, in course order, whose id is not in ``done``: where to continue. None
    when every lesson is done."""
    for module in course.get("modules", []):
        for lesson in module["lessons"]:
            if lesson["id"] not in done:
                return {"id": lesson["id"], "moduleId": module["id"], "title": lesson["title"]}
    return None


def version(course):
    return str(int(course["updatedAt"].timestamp() * 1000))


# --- ownership -------------------------------------------------------------------------

def may_change(course, actor):
    return actor.role in PRIVILEGED or actor.id in course.get("instructors", ())


def require_editor(course, actor):
    if not may_change(course, actor):
        raise Forbidden("Only this course's instructors and admins may do this", code="not_course_instructor")
    return course


def owned_ids(db, actor):
    """The ids of the courses ``actor`` may change, or None for every course (admins)."""
    if actor.role in PRIVILEGED:
        return None
    return db.courses.distinct("_id", {"instructors": actor.id})


def within(course_id, owned):
    """The ``courseId`` filter for ``course_id`` (None: any course) among the ``owned`` course ids
    (None: every course); None when nothing is to be filtered."""
    if owned is None:
        return course_id
    if course_id:
        return course_id if course_id in owned else {"$in": []}
    return {"$in": list(owned)}


def instructor_names(db, found):
    ids = list({uid for course in found for uid in course.get("instructors", ())})
    return {u["_id"]: u["name"] for u in db.users.find({"_id": {"$in": ids}}, {"name": 1})} if ids else {}


# --- serializers -----------------------------------------------------------------------

def _shown(key):
    """Lesson content and video: for preview lessons, or everyone when the reader may see them all
    (``full``: an enrolled learner or staff). Locked lessons keep the key, with null, so every
    lesson has one shape."""
    return lambda lesson, context: lesson[key] if context.get("full") or lesson["preview"] else None


def _thumbnail_url(course, context):
    thumbnail = course.get("thumbnail")
    if not thumbnail:
        return None
    return context["urls"].url_for("catalog_thumbnail", id=course["_id"], query={"v": thumbnail["token"]})


def _instructors(course, context):
    return [{"id": uid, "name": context["names"].get(uid)} for uid in course.get("instructors", ())]


INSTRUCTOR = Shape("Instructor", {"id": Text(), "name": Text(nullable=True)},
                   description="An instructor of a course (name null once the account is gone)")
LESSON_OUTLINE = Shape("LessonOutline", {
    "id": Text(), "title": Text(), "preview": Boolean(), "durationMin": Integer(),
    "content": Text(get=_shown("content"), nullable=True),
    "videoUrl": Text(get=_shown("videoUrl"), nullable=True, format="uri")})
MODULE_OUTLINE = Shape("ModuleOutline", {"id": Text(), "title": Text(), "lessons": ListOf(LESSON_OUTLINE)})
COURSE_CARD = Shape("Course", {
    "id": Text("_id"), "title": Text(), "slug": Text(), "description": Text(),
    "price": Integer(description="In the smallest unit (paise)"), "currency": Text(),
    "free": Boolean(get=lambda course, _: course["price"] == 0), "status": OneOf(STATUSES),
    "requiresProject": Boolean(), "tags": ListOf(Text()),
    "level": OneOf(LEVELS, nullable=True), "category": Text(nullable=True),
    "language": Text(default="en", description="BCP 47 language tag: en, hi, en-IN"),
    "instructors": ListOf(INSTRUCTOR, get=_instructors),
    "thumbnailUrl": Text(get=_thumbnail_url, nullable=True, format="uri",
                         description="The course image (PNG or JPEG); a new upload is a new URL"),
    "moduleCount": Integer(get=lambda course, _: len(course["modules"])),
    "lessonCount": Integer(get=lambda course, _: lesson_count(course)),
    "totalDurationMin": Integer(get=lambda course, _: sum(lesson["durationMin"] for lesson in lessons(course)),
                                description="The sum of the lessons' durations"),
    "createdAt": Timestamp(), "updatedAt": Timestamp()},
    description="A catalog entry: everything but the modules")
COURSE_DETAIL = COURSE_CARD.extend("CourseDetail", {
    "outcomes": ListOf(Text(), description="What a learner will be able to do"),
    "modules": ListOf(MODULE_OUTLINE)},
    description="A course page: every module and lesson title; lesson content only where the reader may see it")
COURSE_FOR_EDITING = COURSE_DETAIL.extend("CourseForEditing", {
    "certificateValidityDays": Integer(nullable=True)},
    description="A course as its editor sees it (its version is the ETag of the answer)")
LESSON = Shape("Lesson", {
    "id": Text(), "moduleId": Text(), "title": Text(), "preview": Boolean(), "durationMin": Integer(default=0),
    "content": Text(default=""), "videoUrl": Text(nullable=True, format="uri")},
    description="A lesson with its content, for someone who may read it")
NEXT_LESSON = Shape("NextLesson", {"id": Text(), "moduleId": Text(), "title": Text()},
                    description="The first lesson, in course order, not completed yet")
FACET_VALUE = Shape("FacetValue", {"value": Text(), "count": Integer()})
COURSE_FACETS = Shape("CourseFacets", {name: ListOf(FACET_VALUE) for name in FACETS},
                      description="Per tag, level, category and language: how many courses have it")


def card(course, urls, names):
    return COURSE_CARD.dump(course, urls=urls, names=names)


def public(db, urls, course, full=False):
    return COURSE_DETAIL.dump(course, urls=urls, names=instructor_names(db, [course]), full=full)


def admin(db, urls, course):
    return COURSE_FOR_EDITING.dump(course, urls=urls, names=instructor_names(db, [course]), full=True)
