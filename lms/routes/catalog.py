"""The course catalog for everyone, and course authoring for staff.

Path ids that are not course ids (wrong length, not hex) are not special-cased: they match no
course, so they are the same 404 ``not_found`` as an id that was deleted.

Editing: the course's version is the ``ETag`` of every answer that carries the course for
editing. ``PUT`` and ``PATCH`` honour ``If-Match`` with it (a list, or ``*``); another version is
412 ``precondition_failed``. Without the header an edit applies to the course as it is (the
named fields win).

The thumbnail: uploaded with ``PUT .../thumbnail`` (``multipart/form-data``, one file in
``file``, through the one multipart reader) and shown at ``GET /api/courses/<id>/thumbnail``,
which redirects (303) to wherever storage keeps the image; with the current ``v`` that answer
may be cached for a day.
"""
import bottle

from ..errors import ValidationError
from ..learning import authoring, courses, thumbnails
from ..schema import PAGE, Bool, Form, Id, List, Obj, Query, Str
from ..web.bodies import UploadLimits, read_multipart

FILTERS = dict(q=Str(max=100, required=False, description="Words of the title or description"),
               tag=Str(max=32, lower=True, required=False), level=Str(choices=courses.LEVELS, required=False),
               category=Str(max=40, lower=True, required=False),
               language=Str(max=10, required=False, description="A BCP 47 tag, exactly: en, hi, en-IN"),
               instructor=Id(required=False, description="Courses this user teaches"),
               free=Bool(required=False, description="true: price 0; false: paid"))
SEARCH = dict(**FILTERS, sort=Str(choices=courses.SORTS, default="newest",
                                  description="newest, oldest; title, price, duration (a leading - descends)"), **PAGE)
CATALOG_QUERY = Query(**SEARCH)
FACETS_QUERY = Query(**FILTERS)
ADMIN_QUERY = Query(**SEARCH, status=Str(choices=courses.STATUSES, required=False))
EDIT = authoring.CHANGES.extend(confirmRemoval=List(
    Str(min=1, max=64), max=1000, required=False,
    description="Ids of lessons with learners' progress that this change may remove"))
THUMBNAIL_QUERY = Query(v=Str(max=32, required=False, description="The upload's token (any value works)"))
THUMBNAIL_UPLOAD = UploadLimits(total_bytes=thumbnails.UPLOAD_BYTES)
THUMBNAIL_FORM = Form(Obj(), files="file", description="A PNG or JPEG image, at most 2 MB")
THUMBNAIL_CACHE = "public, max-age=86400"


def list_courses(db, urls, query):
    return courses.search(db, urls, **query, status="published")


def course_facets(db, query):
    return courses.facets(db, **query, status="published")


def get_course(db, urls, slug, actor):
    # Staff see drafts too, to check them before publishing.
    return {"course": courses.public(db, urls, courses.get_by_slug(db, slug, include_drafts=actor.staff))}


def thumbnail(db, id, query):
    stored = thumbnails.location(db, id)
    response = bottle.response
    response.status = 303
    response.set_header("Location", stored["url"])
    if query.get("v") == stored["token"]:
        response.set_header("Cache-Control", THUMBNAIL_CACHE)
    return ""


def list_all_courses(db, urls, query):
    return courses.search(db, urls, **query)


def get_course_for_editing(db, urls, id):
    return _for_editing(db, urls, courses.get(db, id))


def create_course(db, urls, body, actor):
    return {"_status": 201, **_for_editing(db, urls, authoring.create(db, body, actor))}


def update_course(db, urls, id, body, actor):
    confirmed = body.pop("confirmRemoval", None) or ()
    return _for_editing(db, urls, authoring.update(db, id, body, actor, if_version=_if_match(),
                                                   confirm_removal=confirmed))


def edit_course(db, urls, id, body, actor):
    return _for_editing(db, urls, authoring.update(db, id, body, actor, if_version=_if_match()))


def remove_course(db, storage, id, actor):
    return {"id": id, "outcome": authoring.remove(db, storage, id, actor)}


def upload_thumbnail(db, urls, storage, id, actor):
    courses.require_editor(courses.get(db, id), actor)  # before reading 2 MB from someone who may not
    _, images = read_multipart(bottle.request, THUMBNAIL_UPLOAD, files_field="file", fields=(),
                               accept=thumbnails.accept)
    if not images:
        raise ValidationError({"file": "is required"})
    return _for_editing(db, urls, thumbnails.replace(db, storage, id, images[0], actor))


def remove_thumbnail(db, urls, storage, id, actor):
    return _for_editing(db, urls, thumbnails.remove(db, storage, id, actor))


def _for_editing(db, urls, course):
    bottle.response.set_header("ETag", f'"{courses.version(course)}"')
    return {"course": courses.admin(db, urls, course)}


def _if_match():
    """The versions ``If-Match`` names; None without the header or with ``*``. A weak tag
    (``W/"..."``) never matches: If-Match compares strongly."""
    header = bottle.request.get_header("If-Match")
    if header is None:
        return None
    tags = [tag.strip() for tag in header.split(",")]
    return None if "*" in tags else tuple(tag[1:-1] for tag in tags if len(tag) > 1 and tag[0] == tag[-1] == '"')
