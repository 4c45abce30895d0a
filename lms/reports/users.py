"""Every account, for admins: search, filter by role and by disabled, a page or a CSV of all.

Unlike the students list (``lists.students``) it shows every role, so an instructor or an admin is
found like anyone else, and carries no learning counts. The same conventions hold: ``q`` is one
case-insensitive substring of the name or e-mail, the sorts end with ``_id``, and an export is every
matching row, streamed and audited (``report.export``).
"""
import re

from .. import audit
from ..accounts import users
from ..pagination import paginate
from .exports import BATCH, batches, csv_stream
from .lists import STUDENT_SORTS as SORTS

COLUMNS = ("id", "name", "email", "role", "emailVerified", "disabled", "createdAt", "updatedAt")


def _query(q=None, role=None, disabled=None):
    query = {"role": role} if role else {}
    if disabled is not None:
        query["disabled"] = True if disabled else {"$ne": True}
    if q:
        pattern = {"$regex": re.escape(q), "$options": "i"}
        query["$or"] = [{"name": pattern}, {"email": pattern}]
    return query


def listing(db, *, sort="newest", page=1, limit=20, cursor=None, **filters):
    return paginate(db.users, _query(**filters), SORTS[sort], page, limit, users.public,
                    projection={"passwordHash": 0}, cursor=cursor)


def listing_csv(db, actor, *, sort="newest", **filters):
    audit.record(db, actor, "report.export", "report", "users", sort=sort,
                 **{k: v for k, v in filters.items() if v is not None})
    cursor = db.users.find(_query(**filters), {"passwordHash": 0}).sort(SORTS[sort]).batch_size(BATCH)

    def rows():
        for batch in batches(cursor):
            for user in batch:
                shown = users.public(user)
                yield [shown[column] for column in COLUMNS]
    return csv_stream(COLUMNS, rows())
