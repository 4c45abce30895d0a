"""The course catalog for everyone, and course authoring for staff.

Path ids that are not course ids (wrong length, not hex) are not special-cased: they match no
course, so they are the same 404 ``not_found`` as an id that was deleted.
"""
from ..learning import courses
from ..schema import PAGE, Bool, Query, Str

SEARCH = dict(q=Str(max=100, required=False, description="Words of the title or description"),
              tag=Str(max=32, lower=True, required=False),
              free=Bool(required=False, description="true: price 0; false: paid"),
              sort=Str(choices=courses.SORTS, default="newest"), **PAGE)
CATALOG_QUERY = Query(**SEARCH)
ADMIN_QUERY = Query(**SEARCH, status=Str(choices=courses.STATUSES, required=False))


def list_courses(db, query):
    return courses.search(db, **query, status="published")


def get_course(db, slug, actor):
    # Staff see drafts and archived courses too, to check them before and after publishing.
    course = courses.get_by_slug(db, slug, include_unpublished=actor.staff)
    return {"course": courses.public(course)}


def list_all_courses(db, query):
    return courses.search(db, **query)


def get_course_for_editing(db, id):
    return {"course": courses.admin(courses.get(db, id))}


def create_course(db, body, actor):
    return {"_status": 201, "course": courses.admin(courses.create(db, body, actor))}


def update_course(db, id, body, actor):
    return {"course": courses.admin(courses.update(db, id, body, actor))}


def remove_course(db, id, actor):
    return {"id": id, "outcome": courses.remove(db, id, actor)}
