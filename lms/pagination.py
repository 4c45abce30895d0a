"""Pages of a sorted query: page numbers for the first pages, a cursor for any depth.

Every list answers ``{items, page, limit, total, totalIsExact, nextCursor}``.

Decisions:
- Sorts end with ``_id`` (appended when missing), so rows have one total order and pages
  never repeat or skip a row.
- ``nextCursor`` (null on the last page) names the last row of the page; passing it back as
  ``cursor`` answers the rows after it (keyset pagination). A cursor page costs the same at
  any depth and is stable under inserts: rows added meanwhile never shift it. A cursor is
  bound to its sort (another sort's cursor is a 400) and opaque to clients.
- Page numbers reach the first ``REACH`` rows (a page must start within them); deeper is a
  400 that says to follow ``nextCursor``. Page numbers are for the first pages a person
  clicks through; counting far into a list costs what it skips on any database.
- ``total`` is exact up to ``COUNT_CAP`` matching rows. Beyond it, ``totalIsExact`` is false and
  ``total`` is the collection's estimated size when the list is unfiltered (refreshed in the
  background every ``ESTIMATE_TTL`` seconds per process, less often where estimating is slow:
  it reads the whole collection on the embedded server) or ``COUNT_CAP`` when filtered ("more
  than 1,000"). An unfiltered list
  whose estimate is past twice the cap is not counted at all: a page then reads its own rows
  only, whatever the size of the collection.
- Time-sorted lists are read in windows. The embedded server (SecantusDB) reads every
  document an index range yields before it sorts and applies the limit, so a sorted page of
  100k rows reads 100k rows, where MongoDB stops at the page. When the sort is ``(time field,
  _id)`` and an index in ``lms.db.INDEXES`` has the query's equality fields followed by that
  field, rows are read in windows of that field growing back (or forward) from where the page
  starts, each an index range, until the page (and the count) is full; both servers then read
  about as many rows as the page needs. Other sorts (``email``, ``progress``, a search with
  ``$or``) are one plain sorted query: index-backed on MongoDB, a full read of the matching
  rows on the embedded server. An ascending first page has no edge to start from and is read
  plainly too.
"""
import base64
import binascii
import contextlib
import json
import threading
import time
from datetime import datetime, timedelta, timezone

from pymongo import ASCENDING as ASC, DESCENDING as DESC
from pymongo.errors import PyMongoError

from .db import INDEXES, now
from .errors import ValidationError

REACH = 1000
COUNT_CAP = 1000
ESTIMATE_TTL = 60.0
FIRST_WINDOW = timedelta(hours=1)
SPAN = timedelta(days=366 * 50)  # beyond this from the edge, one open-ended read finishes the walk
_estimates = {}


def whole_page(items):
    """A short list that is never paged (layouts, one's sessions), in the API's list shape."""
    return {"items": items, "page": 1, "limit": len(items), "total": len(items), "totalIsExact": True,
            "nextCursor": None}


def paginate(collection, query, sort, page, limit, serialize, projection=None, *, cursor=None, base=None,
             few=False):
    """One page of ``query`` in ``sort`` order, by page number or after ``cursor``, in the API's
    list shape. ``base`` is the list's query with no filter of the caller's: when ``query`` is
    it, a large total is the collection's estimate. ``few``: the rows of one person (their
    enrollments, certificates, notifications), few enough that one query by the index of its
    equality fields reads them all faster than windows walking their sparse years do."""
    if not any(key == "_id" for key, _ in sort):
        sort = [*sort, ("_id", sort[-1][1] if sort else ASC)]
    if cursor is not None and page != 1:
        raise ValidationError({"cursor": "cannot be combined with page"})
    if (page - 1) * limit >= REACH:
        raise ValidationError({"page": f"page numbers reach the first {REACH} rows; follow nextCursor"})
    after = _decode(cursor, sort) if cursor is not None else None
    walk = _plain(collection, query, sort, None) if few else _windows(collection, query, sort)
    unfiltered = query == (base if base is not None else {})
    estimate = _estimate(collection) if unfiltered else None
    # A whole collection far past the cap is not counted: its total is the estimate, and the page
    # reads only its own rows.
    counted = not (estimate and estimate > 2 * COUNT_CAP)
    offset = (page - 1) * limit if after is None else 0
    need = offset + limit + 1
    if counted and after is None:
        need = max(need, COUNT_CAP + 1)  # the read of the page counts the total too
    keys = walk(need, after)
    shown, more = keys[offset:offset + limit], len(keys) > offset + limit
    if not counted:
        total = {"total": estimate, "totalIsExact": False}
    else:
        total = _total(len(keys) if after is None else len(walk(COUNT_CAP + 1, None)), unfiltered, estimate)
    docs = _fetch(collection, [k["_id"] for k in shown], projection)
    return {"items": [serialize(doc) for doc in docs], "page": page, "limit": limit, **total,
            "nextCursor": _encode(shown[-1], sort) if more and shown else None}


def _total(counted, unfiltered, estimate):
    """``counted`` rows (up to ``COUNT_CAP + 1``) as the answer's total; past the cap, the
    collection's ``estimate`` for an unfiltered list (until it is in, the bound counted to), and
    the cap for a filtered one."""
    if counted <= COUNT_CAP:
        return {"total": counted, "totalIsExact": True}
    return {"total": max(estimate or 0, counted) if unfiltered else COUNT_CAP, "totalIsExact": False}


def _estimate(collection):
    """The collection's estimated size, or None until the first estimate is in. It is refreshed
    in the background (no request waits for it) when older than ``ESTIMATE_TTL``, or than a
    thousand times what it took: estimating reads the whole collection on the embedded server
    (~0.5 s at 100k rows, so every ~8 minutes there), a few milliseconds on MongoDB; either way
    at most a thousandth of the database's time goes to one list's estimate."""
    key = (collection.database.name, collection.name)
    value, expires = _estimates.get(key, (None, 0.0))
    if time.monotonic() >= expires:
        _estimates[key] = (value, time.monotonic() + ESTIMATE_TTL)  # one refresh at a time

        def refresh():
            with contextlib.suppress(PyMongoError):
                started = time.monotonic()
                value = collection.estimated_document_count()
                took = time.monotonic() - started
                _estimates[key] = (value, time.monotonic() + max(ESTIMATE_TTL, 1000 * took))
        threading.Thread(target=refresh, daemon=True, name="estimate").start()  # a greenlet under gevent
    return value


def _fetch(collection, ids, projection):
    """The documents of ``ids``, in that order (one lookup by ``_id``)."""
    if not ids:
        return []
    found = {d["_id"]: d for d in collection.find({"_id": {"$in": ids}}, projection)}
    return [found[i] for i in ids if i in found]  # a row deleted meanwhile is left out


# --- reading in order ---------------------------------------------------------------------

def _windows(collection, query, sort):
    """``walk(need, after)``: up to ``need`` rows (their sort keys and ``_id``) of ``query`` in
    ``sort`` order, after the key ``after`` (a list of the sort's values) or from the start."""
    fields = {key: 1 for key, _ in sort}
    # The index that gives the order, named: the embedded server's planner would otherwise take
    # any index on the equality fields and sort in memory. (A hint makes the embedded server
    # walk the whole index: right for a list it reads whole anyway, not for one person's rows.)
    plain = _plain(collection, query, sort, index_for(collection.name, query, sort))
    field = windowed_field(collection.name, query, sort)
    if field is None:
        return plain
    descending = sort[0][1] == DESC
    low, high = _bounds(query.get(field))
    rest = {k: v for k, v in query.items() if k != field}

    def walk(need, after):
        rows = []
        if after is not None:
            edge, last_id = after
            if _inside(edge, low, high):  # rows sharing the cursor's time, after its _id
                rows += collection.find({**rest, field: edge, "_id": {"$lt" if descending else "$gt": last_id}},
                                        fields).sort(sort).limit(need)
            inclusive = False
            if descending and high is not None and not _inside(edge, None, high):
                edge, inclusive = high  # a cursor from beyond a narrowed range starts at its end
            elif not descending and low is not None and not _inside(edge, low, None):
                edge, inclusive = low
        elif descending and high is not None:
            edge, inclusive = high
        elif not descending and low is not None:
            edge, inclusive = low
        elif descending:
            edge, inclusive = None, True  # the newest rows: open above
        else:
            return plain(need, None)
        stop = low if descending else high
        width, start = FIRST_WINDOW, edge or now()
        while len(rows) < need:
            far = start - width if descending else start + width
            near = {} if edge is None else {("$lte" if inclusive else "$lt") if descending else
                                            ("$gte" if inclusive else "$gt"): edge}
            finished = width >= SPAN or (stop is not None and (far <= stop[0] if descending else far >= stop[0]))
            if finished:
                bound = {("$gte" if stop[1] else "$gt") if descending else ("$lte" if stop[1] else "$lt"): stop[0]} \
                    if stop is not None else {}
            else:
                bound = {"$gte" if descending else "$lt": far}
            window = {**near, **bound}
            found = list(collection.find({**rest, field: window} if window else rest, fields)
                         .sort(sort).limit(need - len(rows)))
            rows += found
            if finished:
                break
            # the next window: wide enough for what is missing at the density just seen
            missing = need - len(rows)
            width = width * 8 if not found else min(width * 8, max(width, width * missing / len(found) * 1.25))
            edge, inclusive, start = far, not descending, far
        return rows
    return walk


def _plain(collection, query, sort, index):
    """``walk`` as one sorted query (``hint``ed to ``index`` when given)."""
    fields = {key: 1 for key, _ in sort}

    def walk(need, after):
        found = collection.find({**query, **_after(sort, after)} if after else query, fields).sort(sort)
        return list((found.hint(index) if index else found).limit(need))
    return walk


def _after(sort, values):
    """The rows strictly after ``values`` in ``sort`` order (a keyset condition)."""
    ors = []
    for n, (key, direction) in enumerate(sort):
        ors.append({**{k: values[i] for i, (k, _) in enumerate(sort[:n])},
                    key: {"$lt" if direction == DESC else "$gt": values[n]}})
    return {"$or": ors}


def _bounds(condition):
    """((value, inclusive) or None, same) of a range condition on the windowed field."""
    if condition is None:
        return None, None
    low = ((condition["$gte"], True) if "$gte" in condition else (condition["$gt"], False) if "$gt" in condition
           else None)
    high = ((condition["$lte"], True) if "$lte" in condition else (condition["$lt"], False) if "$lt" in condition
            else None)
    return low, high


def _inside(value, low, high):
    return ((low is None or value > low[0] or (low[1] and value == low[0]))
            and (high is None or value < high[0] or (high[1] and value == high[0])))


RANGE_OPERATORS = {"$gte", "$gt", "$lte", "$lt"}
# Fields that hold a time in every document of their collections: only these are read in windows.
TIME_FIELDS = frozenset({"createdAt", "enrolledAt", "timestamp"})


def windowed_field(collection_name, query, sort):
    """The time field a query of ``collection_name`` can be read by in windows, or None (see the
    module docstring): a ``(field, _id)`` sort in one direction, the query's other conditions
    plain equalities, and an index of the query's equality fields followed by ``field``."""
    if len(sort) != 2 or sort[1][0] != "_id" or sort[0][1] != sort[1][1]:
        return None
    field = sort[0][0]
    if field not in TIME_FIELDS:
        return None
    condition = query.get(field)
    if condition is not None and not (isinstance(condition, dict) and condition and set(condition) <= RANGE_OPERATORS
                                      and all(isinstance(v, datetime) for v in condition.values())):
        return None
    equal = {k: v for k, v in query.items() if k != field}
    return field if index_for(collection_name, equal, sort[:1]) else None


def index_for(collection_name, query, sort):
    """The name of the index in ``lms.db.INDEXES`` that returns ``query`` in ``sort`` order, or
    None: its keys are the query's fields (equalities), then the sort's keys in their directions
    (or all reversed)."""
    if any(k.startswith("$") or isinstance(v, dict) for k, v in query.items()):
        return None
    for model in INDEXES.get(collection_name, ()):
        keys = list(model.document["key"].items())
        head, tail = {k for k, _ in keys[:len(query)]}, keys[len(query):len(query) + len(sort)]
        if head == set(query) and [k for k, _ in tail] == [k for k, _ in sort] \
                and len({d == s for (_, d), (_, s) in zip(tail, sort)}) == 1 \
                and "partialFilterExpression" not in model.document:
            return model.document["name"]
    return None


# --- cursors ------------------------------------------------------------------------------

def _signature(sort):
    return ",".join(f"{key}{'-' if direction == DESC else '+'}" for key, direction in sort)


def _encode(row, sort):
    values = []
    for key, _ in sort:
        value = row.get(key)
        values.append({"t": round(value.timestamp() * 1000)} if isinstance(value, datetime) else value)
    raw = json.dumps([_signature(sort), values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor, sort):
    invalid = ValidationError({"cursor": "is not a cursor of this list and sort (use nextCursor as given)"})
    try:
        signature, values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise invalid from None
    if signature != _signature(sort) or not isinstance(values, list) or len(values) != len(sort):
        raise invalid
    out = []
    for value in values:
        if isinstance(value, dict):
            if set(value) != {"t"} or not isinstance(value["t"], int) or isinstance(value["t"], bool):
                raise invalid
            try:
                value = datetime.fromtimestamp(value["t"] / 1000, timezone.utc)
            except (OverflowError, OSError, ValueError):
                raise invalid from None
        elif not (value is None or isinstance(value, (str, int, float))) or isinstance(value, bool):
            raise invalid
        out.append(value)
    for (key, _), value in zip(sort, out):  # each value of the type its field holds
        if (key in TIME_FIELDS and not isinstance(value, datetime)) or (key == "_id" and not isinstance(value, str)):
            raise invalid
    return out
