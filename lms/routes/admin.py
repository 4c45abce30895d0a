"""The staff's reports: students, enrollments, a course's roster and numbers, the site-wide
analytics; every account and the audit trail (admins).

Lists answer JSON pages, or a streamed CSV of every matching row with ``?format=csv`` or
``Accept: text/csv`` (see ``lms.reports.exports``). Time filters ``from`` and ``to`` take a UTC date or
a time with its zone (``lms.reports.Instant``); a malformed one, an unknown parameter or a ``limit``
above 100 is a 400 naming the parameter.
"""
from functools import partial

import bottle

from .. import reports
from ..learning import enrollments
from ..accounts.users import ROLES
from ..reports import analytics, courses, lists, users
from ..schema import PAGE, Bool, Id, Query, Str

CSV = ("application/json", "text/csv")
FORMAT = dict(format=Str(choices=("json", "csv"), default="json",
                         description="csv: every matching row as a CSV download (page and limit ignored)"))
WHEN = {"from": reports.Instant(required=False, description="From this UTC date or time"),
        "to": reports.Instant(end=True, required=False,
                              description="Before this time; a bare date includes that whole day")}
STUDENTS = Query(q=Str(max=100, required=False, description="Part of the name or e-mail"),
                 sort=Str(choices=lists.STUDENT_SORTS, default="newest"), **FORMAT, **PAGE)
ENROLLMENTS = Query(courseId=Id(required=False), userId=Id(required=False),
                    status=Str(choices=enrollments.STATUSES, required=False),
                    sort=Str(choices=lists.ENROLLMENT_SORTS, default="newest"), **WHEN, **FORMAT, **PAGE)
ROSTER = Query(status=Str(choices=enrollments.STATUSES, required=False),
               sort=Str(choices=courses.SORTS, default="newest"), **FORMAT, **PAGE)
USERS = Query(q=Str(max=100, required=False, description="Part of the name or e-mail"),
              role=Str(choices=ROLES, required=False), disabled=Bool(required=False),
              sort=Str(choices=lists.STUDENT_SORTS, default="newest"), **FORMAT, **PAGE)
ANALYTICS = Query(**WHEN)
LOGS = Query(action=Str(max=100, required=False), actorId=Str(max=64, required=False),
             targetType=Str(max=64, required=False), targetId=Str(max=200, required=False),
             requestId=Str(max=64, required=False), **WHEN, **PAGE)


def _wants_csv(query):
    return query.pop("format") == "csv" or "text/csv" in (bottle.request.get_header("Accept") or "")


def _download(name, chunks):
    response = bottle.response
    response.content_type = "text/csv; charset=utf-8"
    response.set_header("Content-Disposition", f'attachment; filename="{name}.csv"')
    return chunks


def _unpaged(query):
    """An export is every row: the page parameters do not apply."""
    for name in ("page", "limit", "cursor"):
        query.pop(name, None)


def _range(query):
    return {"start": query.pop("from", None), "end": query.pop("to", None)}


def list_students(db, query, actor):
    if _wants_csv(query):
        return _download("students", lists.students_csv(db, actor, q=query.get("q"), sort=query["sort"]))
    return lists.students(db, **query)


def list_users(db, query, actor):
    if _wants_csv(query):
        _unpaged(query)
        return _download("users", users.listing_csv(db, actor, **query))
    return users.listing(db, **query)


def filtered_list(name, db, query, actor, page, export):
    """A list filtered by ``query`` (with ``from``/``to``): a ``page`` of it, or the ``export`` of
    every matching row as ``<name>.csv``."""
    if _wants_csv(query):
        _unpaged(query)
        return _download(name, export(db, actor, **_range(query), **query))
    return page(db, **_range(query), **query)


def list_enrollments(db, query, actor):
    return filtered_list("enrollments", db, query, actor, partial(lists.enrollment_list, actor=actor),
                         lists.enrollments_csv)


def course_students(db, id, query, actor):
    if _wants_csv(query):
        _unpaged(query)
        return _download(f"course-{id}-students", courses.roster_csv(db, actor, id, **query))
    return courses.roster(db, actor, id, **query)


def course_analytics(db, id, actor):
    return courses.numbers(db, actor, id)


def show_analytics(db, query):
    return analytics.report(db, **_range(query))


def list_logs(db, query):
    return lists.audit_entries(db, **_range(query), **query)
