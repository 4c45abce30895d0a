"""Course authoring: creating, editing, archiving and deleting courses, keeping learners' work.

Decisions:
- The shape of a valid course (``COURSE``; ``CHANGES`` for a ``PUT``, ``DETAILS`` for a ``PATCH``)
  lives here, not in the HTTP layer: ``create`` and ``update`` validate what they are given
  themselves, so the demo seed, the CLI and the routes obey the same rules.
- An update replaces each field it names and keeps the others. ``modules``, when named, is the
  new outline: its order and which lessons are in it. A module or lesson sent with the id of an
  existing one *is* that one, and every field it leaves out keeps its stored value (an editor
  that re-sends titles only does not wipe content); one sent without an id, or with an id the
  course does not have, is new and gets the defaults. So ids are stable across edits, and
  moving a lesson to another module or reordering keeps it.
- Removing lessons that learners have completed is refused (409 ``lessons_have_progress``,
  listing each with its number of learners) unless the request names them in
  ``confirmRemoval``. An editor that sends its lessons back without their ids removes them, so
  it gets the same answer instead of silently moving everyone to 0 %. Progress rows of a removed
  lesson are kept (re-adding the lesson under its id restores them); they just stop counting.
- When the set of lessons changes, every enrollment's stored numbers are recounted by the
  worker (``progress.schedule_recount``), so lists, exports and the learner's own view agree.
- Every write is guarded by the ``updatedAt`` it was computed from (``lms.db.find_one_and_update``),
  so two concurrent edits cannot together break a rule that each kept alone; the loser
  recomputes from the winner's result. An editor that sends the version it read
  (``if_version``, the route's ``If-Match``) gets 412 ``precondition_failed`` when the course
  changed since, instead of merging into a newer course it has not seen.
- Lifecycle: see the README's table. A course with enrollments cannot go back to ``draft``
  (409 ``course_has_enrollments``): archive it; ``remove`` archives a course someone enrolled
  in and deletes only one nobody did.
- ``instructors`` are ids of instructor or admin accounts; a course an instructor creates names
  them. Module and lesson ids are chosen by the author (short slugs such as ``intro``) or
  generated; unique within the course, lesson ids across all modules, because progress is keyed
  by (user, course, lesson).
- Slugs are URLs: generated from the title when absent (``-2``, ``-3``… on a collision, also
  under a race, through the unique index), never changed by a title change; an explicit slug
  that is taken is a 409 ``slug_taken``, and ``facets`` is reserved (it is a catalog route).
"""
import itertools
import logging
import re
import secrets
import unicodedata
from datetime import timedelta

from pymongo.errors import DuplicateKeyError

from .. import audit
from ..db import find_one_and_update, new_id, now
from ..errors import Conflict, PreconditionFailed, StorageError, ValidationError
from ..schema import MISSING, Bool, Id, Int, List, Obj, Str, Url
from . import courses, progress

log = logging.getLogger("lms.courses")

SLUG = r"[a-z0-9]+(?:-[a-z0-9]+)*"
RESERVED_SLUGS = ("facets",)
PART_ID = r"[A-Za-z0-9_-]{1,64}"
LANGUAGE = r"[a-z]{2,3}(?:-[A-Z]{2})?"
MAX_PRICE = 10 ** 9  # paise: ten million rupees, far above any course, far below int64
MAX_CONTENT = 100_000
RETRIES = 3
EDITABLE = ("title", "slug", "description", "price", "currency", "status", "requiresProject", "tags",
            "certificateValidityDays", "level", "category", "language", "outcomes", "instructors", "modules")
LESSON_DEFAULTS = {"preview": False, "durationMin": 0, "content": "", "videoUrl": None}

# No defaults here: a field left out keeps the stored value (or LESSON_DEFAULTS for a new
# lesson). An empty or null id means "a new one", which is what a form's blank field intends.
LESSON = Obj(id=Str(max=64, pattern=PART_ID, required=False, nullable=True),
             title=Str(min=1, max=200, required=False, description="Required for a new lesson"),
             preview=Bool(required=False), durationMin=Int(min=0, max=10_000, required=False),
             content=Str(max=MAX_CONTENT, strip=False, required=False), videoUrl=Url(nullable=True, required=False),
             description="A lesson: the id of an existing one keeps every field left out")
MODULE = Obj(id=Str(max=64, pattern=PART_ID, required=False, nullable=True),
             title=Str(min=1, max=200, required=False, description="Required for a new module"),
             lessons=List(LESSON, max=200, required=False,
                          description="The module's lessons in order (left out: the module keeps its lessons)"))


def _shape(partial, outline=True):
    def opt(default=MISSING):
        # A change names only what it changes; a new course gets defaults for the rest.
        if partial:
            return {"required": False}
        return {} if default is MISSING else {"default": default}
    # A dict, not keywords: Obj(description=...) would be the object's own description.
    fields = {
        "title": Str(min=1, max=200, **opt()),
        "slug": Str(max=100, pattern=SLUG, lower=True, required=False, nullable=True),
        "description": Str(max=5000, **opt("")),
        "price": Int(min=0, max=MAX_PRICE, description="In the smallest unit (paise)", **opt()),
        "currency": Str(min=3, max=3, pattern="[A-Z]{3}", **opt("INR")),
        "status": Str(choices=courses.STATUSES, **opt("draft")),
        "requiresProject": Bool(**opt(False)),
        "tags": List(Str(min=1, max=32, lower=True), max=20, **opt(list)),
        "certificateValidityDays": Int(min=1, max=36500, nullable=True, **opt(None)),
        "level": Str(choices=courses.LEVELS, nullable=True, **opt(None)),
        "category": Str(min=1, max=40, lower=True, nullable=True, **opt(None)),
        "language": Str(max=10, pattern=LANGUAGE, description="BCP 47: en, hi, en-IN", **opt("en")),
        "outcomes": List(Str(min=1, max=200), max=20, description="What a learner will be able to do",
                         **opt(list)),
        "instructors": List(Id(), max=20, description="User ids of the instructors who may change the course",
                            **opt(list))}
    if outline:
        fields["modules"] = List(MODULE, max=50, **opt(list))
    return Obj(fields)


COURSE = _shape(partial=False)
CHANGES = _shape(partial=True)
DETAILS = _shape(partial=True, outline=False)  # a PATCH: everything but the outline


# --- creating --------------------------------------------------------------------------

def create(db, fields, actor):
    fields = COURSE.validate(fields)
    if actor.role == "instructor" and actor.id not in fields["instructors"]:
        fields["instructors"] = [actor.id, *fields["instructors"]]
    stamp = now()
    course = {"_id": new_id(), **_normalized(fields, []), "createdAt": stamp, "updatedAt": stamp}
    _check(db, course)
    course = _insert(db, course, fields.get("slug"))
    audit.record(db, actor, "course.create", "course", course["_id"], slug=course["slug"],
                 status=course["status"])
    return course


# --- changing --------------------------------------------------------------------------

def update(db, course_id, fields, actor, *, if_version=None, confirm_removal=()):
    """Apply the named fields (see the module docstring); returns the course as stored."""
    changes = CHANGES.validate(fields)
    outcome = {}

    def compute(current):
        if if_version is not None and courses.version(current) not in if_version:
            raise PreconditionFailed("The course changed since you read it; reload it and make your change again")
        merged = {**current, **_normalized(changes, current.get("modules", []))}
        _check(db, merged, current)
        removed = [i for i in courses.lesson_ids(current) if i not in set(courses.lesson_ids(merged))]
        _keep_progress(db, current, removed, set(confirm_removal))
        changed = [name for name in EDITABLE if merged.get(name) != current.get(name)]
        outcome.update(changed=changed, removed=removed)
        return {name: merged[name] for name in changed + _derived(changed)}

    before, course = change(db, course_id, actor, compute)
    if course is before:
        return course
    details = {"fields": outcome["changed"]}
    if "status" in outcome["changed"]:
        details["status"] = {"from": before["status"], "to": course["status"]}
    if set(courses.lesson_ids(before)) != set(courses.lesson_ids(course)):
        details.update(removedLessons=outcome["removed"],
                       addedLessons=[i for i in courses.lesson_ids(course) if i not in courses.lesson_ids(before)])
        progress.schedule_recount(db, course_id)
    audit.record(db, actor, "course.update", "course", course_id, **details)
    return course


def change(db, course_id, actor, compute):
    """(before, after) of one guarded write of ``compute(current)``'s fields, by an editor of the
    course; ``after is before`` when there was nothing to write."""
    for _ in range(RETRIES):
        current = courses.require_editor(courses.get(db, course_id), actor)
        values = compute(current)
        if not values:
            return current, current
        previous = current["updatedAt"]
        # Strictly later, so the guard also fails for an edit made in the same millisecond, and
        # the version always moves forward.
        stamp = max(now(), previous + timedelta(milliseconds=1))
        try:
            course = find_one_and_update(db.courses, {"_id": course_id, "updatedAt": previous},
                                         {"$set": {**values, "updatedAt": stamp}}, after=True)
        except DuplicateKeyError:
            raise _slug_taken(values.get("slug")) from None
        if course:
            return current, course
    raise Conflict("The course is being edited by someone else; reload it and try again", code="edit_conflict")


def remove(db, storage, course_id, actor):
    """Archive a course someone enrolled in (their enrollments, lessons, progress and certificates
    stay theirs), delete one nobody did. Returns ``"archived"`` or ``"deleted"``."""
    if db.enrollments.count_documents({"courseId": course_id}, limit=1):
        before, course = change(db, course_id, actor,
                                lambda current: {"status": "archived"} if current["status"] != "archived" else None)
        if course is not before:
            audit.record(db, actor, "course.archive", "course", course_id, slug=course["slug"],
                         previousStatus=before["status"])
        return "archived"
    course = courses.require_editor(courses.get(db, course_id), actor)
    if db.courses.delete_one({"_id": course_id}).deleted_count:
        audit.record(db, actor, "course.delete", "course", course_id, slug=course["slug"], title=course["title"])
        if course.get("thumbnail"):
            discard(storage, course["thumbnail"]["key"])
    return "deleted"


def discard(storage, key):
    """Delete a file nothing refers to any more; a failure leaves an orphan file, logged, and
    never fails the change that made it one."""
    try:
        storage.delete(key)
    except StorageError as exc:
        log.error("orphaned file %s (delete failed: %s)", key, exc)


# --- rules -----------------------------------------------------------------------------

def _check(db, course, current=None):
    """The rules beyond each field's own: a published course has lessons, instructors are staff,
    and (for a change of ``current``) enrolled courses stay out of ``draft``."""
    errors = {}
    if course["status"] == "published" and not courses.lesson_count(course):
        errors["status"] = "a published course needs at least one lesson"
    added = [uid for uid in course["instructors"] if uid not in (current or {}).get("instructors", ())]
    staff = {u["_id"] for u in db.users.find({"_id": {"$in": added}, "role": {"$in": ["instructor", "admin"]}},
                                             {"_id": 1})} if added else set()
    errors.update({f"instructors.{n}": "is not an instructor's or admin's user id"
                   for n, uid in enumerate(course["instructors"]) if uid in added and uid not in staff})
    if errors:
        raise ValidationError(errors)
    if current and course["status"] == "draft" and current["status"] != "draft" and \
            db.enrollments.count_documents({"courseId": current["_id"]}, limit=1):
        raise Conflict("Learners are enrolled in this course: archive it instead of making it a draft",
                       code="course_has_enrollments")


def _keep_progress(db, current, removed, confirmed):
    """Refuse to remove lessons learners completed, unless each is in ``confirmed``."""
    if not removed:
        return
    learners = {row["_id"]: row["n"] for row in db.progress.aggregate([
        {"$match": {"courseId": current["_id"]}}, {"$group": {"_id": "$lessonId", "n": {"$sum": 1}}}])}
    kept = [lesson_id for lesson_id in removed if learners.get(lesson_id) and lesson_id not in confirmed]
    if kept:
        where = {lesson["id"]: (module["id"], lesson["title"])
                 for module in current["modules"] for lesson in module["lessons"]}
        raise Conflict(
            f"Learners have completed lessons this change removes ({', '.join(kept)}): send their ids to keep "
            "them, or list them in confirmRemoval to remove them", code="lessons_have_progress",
            extra={"lessons": [{"id": i, "moduleId": where[i][0], "title": where[i][1], "learners": learners[i]}
                               for i in kept]})


def _derived(changed):
    return [name for name, source in (("titleKey", "title"), ("totalDurationMin", "modules")) if source in changed]


def _normalized(fields, current_modules):
    """The stored form of validated fields (any subset of them)."""
    out = {name: value for name, value in fields.items() if name != "slug"}
    if fields.get("slug"):  # empty or null: generate one (create) or keep it (update)
        if fields["slug"] in RESERVED_SLUGS:
            raise ValidationError({"slug": "is reserved"})
        out["slug"] = fields["slug"]
    if "title" in fields:
        out["titleKey"] = fields["title"].casefold()
    for name in ("tags", "outcomes", "instructors"):
        if name in fields:
            out[name] = list(dict.fromkeys(fields[name]))
    if "modules" in fields:
        out["modules"] = _with_ids(_merged(current_modules, fields["modules"]))
        out["totalDurationMin"] = sum(lesson["durationMin"] for lesson in courses.lessons(out))
    return out


def _merged(current, sent):
    """The sent outline with every field an existing module or lesson leaves out taken from it."""
    modules = {module["id"]: module for module in current}
    known = {lesson["id"]: lesson for module in current for lesson in module["lessons"]}
    errors, out = {}, []
    for i, module in enumerate(sent):
        base = modules.get(module.get("id") or None, {})
        merged = {"id": module.get("id"), "title": module.get("title", base.get("title")),
                  "lessons": [dict(lesson) for lesson in base.get("lessons", [])]}
        if "lessons" in module:
            merged["lessons"] = [{**LESSON_DEFAULTS, **known.get(lesson.get("id") or None, {}), **lesson}
                                 for lesson in module["lessons"]]
        errors.update({f"modules.{i}.lessons.{j}.title": "is required"
                       for j, lesson in enumerate(merged["lessons"]) if not lesson.get("title")})
        if not merged["title"]:
            errors[f"modules.{i}.title"] = "is required"
        out.append(merged)
    if errors:
        raise ValidationError(errors)
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


# --- slugs -----------------------------------------------------------------------------

def slugify(title):
    # Spelled out so that "C++" and "C" do not both become "c".
    for sign, word in (("+", " plus "), ("#", " sharp "), ("&", " and ")):
        title = title.replace(sign, word)
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:80].rstrip("-")
    return slug or "course"  # a title in another script leaves no ASCII


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
        {"slug": {"$regex": f"^{re.escape(base)}(-[0-9]+)?$"}}, {"slug": 1})} | set(RESERVED_SLUGS)
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
