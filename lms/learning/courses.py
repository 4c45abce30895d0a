"""Courses: the catalog's documents, their authoring rules and their serializers.

A course holds its modules and lessons inside one document, so every edit is one atomic
single-document write and a reader never sees half a course.

Decisions:
- The shape of a valid course (``COURSE``, and ``CHANGES`` for updates) lives here, not in the
  HTTP layer: ``create`` and ``update`` validate what they are given themselves, so the demo
  seed, the CLI and the routes all obey the same rules. The routes declare the same schemas,
  which documents them in OpenAPI; validating twice is idempotent and cheap.
- An update replaces each field it names and keeps the others (``PUT`` with a partial body
  publishes a course with ``{"status": "published"}``). ``modules`` is replaced whole: lesson
  ids the author sends back are kept, missing ones are generated, so an editor must send the
  ids it was given or learners' progress on those lessons is orphaned.
- Module and lesson ids are chosen by the author (short slugs such as ``intro``) or generated;
  they are unique within the course, lesson ids across all modules, because progress is
  keyed by (user, course, lesson).
- Slugs are URLs: generated from the title when absent (``-2``, ``-3``… on a collision, also
  under a race, through the unique index), never changed by a title change, and an explicit
  slug that is taken is a 409 ``slug_taken``.
- ``titleKey`` (the case-folded title) is stored only so that sorting by title ignores case on
  every server; no serializer shows it.
- Search matches each word of ``q`` as an escaped, case-insensitive substring of the title or
  description. A text index would rank, but it matches whole stemmed words only and behaves
  differently across servers; a scan of the published courses is fine at catalog sizes.
"""
import itertools
import re
import secrets
import unicodedata
from datetime import timedelta

from pymongo import ASCENDING as ASC, DESCENDING as DESC, ReturnDocument
from pymongo.errors import DuplicateKeyError

from .. import audit
from ..db import new_id, now, paginate
from ..errors import Conflict, NotFound, ValidationError
from ..schema import (MISSING, Bool, Boolean, Int, Integer, List, ListOf, Obj, OneOf, Shape, Str, Text,
                      Timestamp, Url)

STATUSES = ("draft", "published", "archived")
SORTS = {"newest": [("createdAt", DESC)], "title": [("titleKey", ASC)], "price": [("price", ASC)]}
SLUG = r"[a-z0-9]+(?:-[a-z0-9]+)*"
PART_ID = r"[A-Za-z0-9_-]{1,64}"
MAX_PRICE = 10 ** 9  # paise: ten million rupees, far above any course, far below int64
MAX_CONTENT = 100_000
EDITABLE = ("title", "slug", "description", "price", "currency", "status", "requiresProject",
            "tags", "certificateValidityDays", "modules")

# An empty or null id means "generate one", which is what a form's blank field intends.
LESSON = Obj(id=Str(max=64, pattern=PART_ID, required=False, nullable=True),
             title=Str(min=1, max=200), preview=Bool(default=False),
             durationMin=Int(min=0, max=10_000, default=0),
             content=Str(max=MAX_CONTENT, strip=False, default=""),
             videoUrl=Url(nullable=True, default=None))
MODULE = Obj(id=Str(max=64, pattern=PART_ID, required=False, nullable=True),
             title=Str(min=1, max=200), lessons=List(LESSON, max=200, default=list))


def _shape(partial):
    def opt(default=MISSING):
        # A change names only what it changes; a new course gets defaults for the rest.
        if partial:
            return {"required": False}
        return {} if default is MISSING else {"default": default}
    # A dict, not keywords: Obj(description=...) would be the object's own description.
    return Obj({
        "title": Str(min=1, max=200, **opt()),
        "slug": Str(max=100, pattern=SLUG, lower=True, required=False, nullable=True),
        "description": Str(max=5000, **opt("")),
        "price": Int(min=0, max=MAX_PRICE, description="In the smallest unit (paise)", **opt()),
        "currency": Str(min=3, max=3, pattern="[A-Z]{3}", **opt("INR")),
        "status": Str(choices=STATUSES, **opt("draft")),
        "requiresProject": Bool(**opt(False)),
        "tags": List(Str(min=1, max=32, lower=True), max=20, **opt(list)),
        "certificateValidityDays": Int(min=1, max=36500, nullable=True, **opt(None)),
        "modules": List(MODULE, max=50, **opt(list))})


COURSE = _shape(partial=False)
CHANGES = _shape(partial=True)


# --- reading ---------------------------------------------------------------------------

def get(db, course_id):
    """The course with this id, any status. Ids that are not ours simply match nothing: 404."""
    course = db.courses.find_one({"_id": course_id})
    if not course:
        raise NotFound("Course not found")
    return course


def get_by_slug(db, slug, include_unpublished=False):
    query = {"slug": slug} if include_unpublished else {"slug": slug, "status": "published"}
    course = db.courses.find_one(query)
    if not course:
        raise NotFound("Course not found")
    return course


def search(db, *, q=None, tag=None, free=None, status=None, sort="newest", page=1, limit=20):
    """One page of course cards; the pages of one question never repeat or skip a course."""
    query = {}
    if status:
        query["status"] = status
    if tag:
        query["tags"] = tag
    if free is not None:
        query["price"] = 0 if free else {"$gt": 0}
    words = (q or "").split()
    if words:
        query["$and"] = [{"$or": [{field: {"$regex": re.escape(word), "$options": "i"}}
                                  for field in ("title", "description")]} for word in words]
    # Cards show no lesson content, so none is read.
    return paginate(db.courses, query, SORTS[sort], page, limit, card,
                    projection={"modules.lessons.content": 0})


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


# --- serializers -----------------------------------------------------------------------

def _shown(key):
    """Lesson content and video: for preview lessons, or everyone when the reader may see them all
    (``full``: an enrolled learner or staff). Locked lessons keep the key, with null, so every
    lesson has one shape."""
    return lambda lesson, context: lesson[key] if context.get("full") or lesson["preview"] else None


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
    "moduleCount": Integer(get=lambda course, _: len(course["modules"])),
    "lessonCount": Integer(get=lambda course, _: lesson_count(course)),
    "totalDurationMin": Integer(get=lambda course, _: sum(lesson["durationMin"] for lesson in lessons(course))),
    "createdAt": Timestamp(), "updatedAt": Timestamp()},
    description="A catalog entry: everything but the modules")
COURSE_DETAIL = COURSE_CARD.extend("CourseDetail", {"modules": ListOf(MODULE_OUTLINE)},
                                   description="A course page: every module and lesson title; lesson content "
                                               "only where the reader may see it")
COURSE_FOR_EDITING = COURSE_DETAIL.extend("CourseForEditing", {
    "certificateValidityDays": Integer(nullable=True)}, description="A course as its editor sees it")
LESSON = Shape("Lesson", {
    "id": Text(), "moduleId": Text(), "title": Text(), "preview": Boolean(), "durationMin": Integer(default=0),
    "content": Text(default=""), "videoUrl": Text(nullable=True, format="uri")},
    description="A lesson with its content, for someone who may read it")
card = COURSE_CARD.dump


def public(course, full=False):
    return COURSE_DETAIL.dump(course, full=full)


def admin(course):
    return COURSE_FOR_EDITING.dump(course, full=True)


# --- changing --------------------------------------------------------------------------

def create(db, fields, actor):
    fields = COURSE.validate(fields)
    stamp = now()
    course = {"_id": new_id(), **_normalized(fields), "createdAt": stamp, "updatedAt": stamp}
    _check(course)
    course = _insert(db, course, fields.get("slug"))
    audit.record(db, actor, "course.create", "course", course["_id"], slug=course["slug"],
                 status=course["status"])
    return course


def update(db, course_id, fields, actor):
    """Apply the named fields. The write is guarded by the ``updatedAt`` it was computed from,
    so two concurrent edits cannot together break a rule that each kept alone (a published
    course without lessons); the loser recomputes from the winner's result."""
    changes = _normalized(CHANGES.validate(fields))
    for _ in range(3):
        current = get(db, course_id)
        merged = {**current, **changes}
        _check(merged)
        changed = [name for name in EDITABLE if merged.get(name) != current.get(name)]
        if not changed:
            return current
        previous = current.get("updatedAt")
        # Strictly later, so the guard also fails for an edit made in the same millisecond.
        stamp = max(now(), previous + timedelta(milliseconds=1)) if previous else now()
        values = {name: merged[name] for name in changed}
        if "title" in changed:
            values["titleKey"] = merged["titleKey"]
        try:
            course = db.courses.find_one_and_update(
                {"_id": course_id, "updatedAt": previous}, {"$set": {**values, "updatedAt": stamp}},
                return_document=ReturnDocument.AFTER)
        except DuplicateKeyError:
            raise _slug_taken(changes["slug"]) from None
        if course:
            details = {"fields": changed}
            if "status" in changed:
                details["status"] = {"from": current["status"], "to": course["status"]}
            audit.record(db, actor, "course.update", "course", course_id, **details)
            return course
    raise Conflict("The course is being edited by someone else; reload it and try again",
                   code="edit_conflict")


def remove(db, course_id, actor):
    """Archive a course someone enrolled in (their enrollments, progress and certificates stay
    readable), delete one nobody did. Returns ``"archived"`` or ``"deleted"``."""
    course = get(db, course_id)
    if db.enrollments.count_documents({"courseId": course_id}, limit=1):
        db.courses.update_one({"_id": course_id},
                              {"$set": {"status": "archived", "updatedAt": now()}})
        audit.record(db, actor, "course.archive", "course", course_id, slug=course["slug"],
                     previousStatus=course["status"])
        return "archived"
    if db.courses.delete_one({"_id": course_id}).deleted_count:
        audit.record(db, actor, "course.delete", "course", course_id, slug=course["slug"],
                     title=course["title"])
    return "deleted"


def slugify(title):
    # Spelled out so that "C++" and "C" do not both become "c".
    for sign, word in (("+", " plus "), ("#", " sharp "), ("&", " and ")):
        title = title.replace(sign, word)
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:80].rstrip("-")
    return slug or "course"  # a title in another script leaves no ASCII


def _normalized(fields):
    """The stored form of validated fields (any subset of them)."""
    out = {name: value for name, value in fields.items() if name != "slug"}
    if fields.get("slug"):  # empty or null: generate one (create) or keep it (update)
        out["slug"] = fields["slug"]
    if "title" in fields:
        out["titleKey"] = fields["title"].casefold()
    if "tags" in fields:
        out["tags"] = list(dict.fromkeys(fields["tags"]))
    if "modules" in fields:
        out["modules"] = _with_ids(fields["modules"])
    return out


def _with_ids(modules):
    """The modules with every id unique (else a ValidationError naming each repeat) and the
    missing ones generated."""
    errors, module_ids, lesson_ids_seen = {}, {}, {}
    for i, module in enumerate(modules):
        if module.get("id"):
            first = module_ids.setdefault(module["id"], i)
            if first != i:
                errors[f"modules.{i}.id"] = f"repeats the id of modules.{first}"
        for j, lesson in enumerate(module["lessons"]):
            if lesson.get("id"):
                first = lesson_ids_seen.setdefault(lesson["id"], f"modules.{i}.lessons.{j}")
                if first != f"modules.{i}.lessons.{j}":
                    errors[f"modules.{i}.lessons.{j}.id"] = f"repeats the id of {first}"
    if errors:
        raise ValidationError(errors)
    taken = set(module_ids) | set(lesson_ids_seen)
    return [{"id": module.get("id") or _fresh_id("m", taken), "title": module["title"],
             "lessons": [{"id": lesson.get("id") or _fresh_id("l", taken), "title": lesson["title"],
                          "preview": lesson["preview"], "durationMin": lesson["durationMin"],
                          "content": lesson["content"], "videoUrl": lesson["videoUrl"] or None}
                         for lesson in module["lessons"]]}
            for module in modules]


def _fresh_id(prefix, taken):
    while True:
        candidate = prefix + secrets.token_hex(4)
        if candidate not in taken:
            taken.add(candidate)
            return candidate


def _check(course):
    if course["status"] == "published" and not lesson_count(course):
        raise ValidationError({"status": "a published course needs at least one lesson"})


def _insert(db, course, slug):
    """Insert under ``slug``, or under the first free slug made from the title."""
    if slug:
        try:
            db.courses.insert_one({**course, "slug": slug})
        except DuplicateKeyError:
            raise _slug_taken(slug) from None
        return {**course, "slug": slug}
    base = slugify(course["title"])
    taken = {doc["slug"] for doc in db.courses.find(
        {"slug": {"$regex": f"^{re.escape(base)}(-[0-9]+)?$"}}, {"slug": 1})}
    races = 0
    for n in itertools.count(1):
        candidate = base if n == 1 else f"{base}-{n}"
        if candidate in taken:
            continue
        try:
            db.courses.insert_one({**course, "slug": candidate})
            return {**course, "slug": candidate}
        except DuplicateKeyError:  # created by someone else since we looked: try the next
            races += 1
            if races == 20:
                raise Conflict("Could not find a free slug; choose one", code="slug_taken") from None


def _slug_taken(slug):
    return Conflict(f"The slug '{slug}' is already used by another course", code="slug_taken",
                    fields={"slug": "is already used by another course"})
