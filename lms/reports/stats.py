"""Day counters: what the analytics report, kept up to date as it happens (``dailyStats``).

One document per UTC day, ``_id`` the day (``"2025-06-01"``), so a range of days is one read of
the ``_id`` index (an ``$in`` of the days), however many enrollments and payments the platform
holds::

    {"_id": "2025-06-01",
     "enrollments": {status: n},      # by enrolledAt, under the enrollment's status now
     "completions": n,                # by completedAt
     "certificates": {status: n},     # by createdAt, under the certificate's status now
     "money": {currency: {"captured", "refunded", "disputesLost": paise, "payments", "refunds",
                          "disputes": n}},          # Razorpay movements, by movement time
     "simulated": {currency: {"amount": paise, "payments": n}},   # simulated captures
     "free": n,                       # free enrollments' payment rows, by createdAt
     "courses": {courseId: {"enrollments": n,       # by enrolledAt
                            "money": {currency: {"net": paise, "n": movements}}}}}

What counts where is written once, in the key builders below (``_enrollment``, ``_movement``,
...): ``count`` (the source collections, aggregated in the database) and the event functions
(one ``$inc`` each) both go through them, so the two cannot drift apart. ``rebuild`` is
``count`` over all time, written over the collection.

Decisions:
- Counted when it happens: every domain function that records one of these events calls the
  function here *after* its guarded write landed (an insert, an ``update_one`` that modified the
  document, a ``find_one_and_update`` whose before-image shows the change), and only then; so a
  replayed webhook, a retried job or two racing requests count once, as they change the data once.
  A status change moves one count from the old status to the new one on the day the record
  counts on (an enrollment's ``enrolledAt``, a certificate's ``createdAt``).
- One single-document ``$inc`` (upsert) per event: no transaction spans the event's write and the
  counter's. A crash between the two loses that one count (the data is right, the report one
  short) and nothing retries it, since the event's write already happened and its retry changes
  nothing. ``python lms.py rebuild-stats`` (``rebuild``) recounts everything from the data and
  repairs it; an operator runs it after such a crash, or any time, as it is idempotent.
- ``rebuild`` writes every day it counted (one ``replace_one`` each, so a reader sees a day
  either before or after, never half of it), then deletes the days no longer present. An event
  recorded while a rebuild runs may be lost or doubled for its day (its ``$inc`` can land before
  the day is replaced, or after the count read it); run it again in a quiet moment if that matters.
- A database made before the counters (``dailyStats`` empty while there are enrollments,
  certificates or payments), or whose payments the start-up upgrade just converted, is rebuilt
  once at start (``prepare``, called by ``Runtime.open``); replicas starting together both
  rebuild, to the same answer.
- A report's range may start or end inside a day (a time with its zone): the whole days in
  between come from the counters, the partial days at the edges are counted from the source
  collections (``count``, at most two slices shorter than a day each, read through the
  time-field indexes).
- Data written straight into the database (imports, the benchmarks' bulk inserts) is not
  counted until ``rebuild`` runs.
"""
import logging
from collections import Counter
from datetime import datetime, timedelta, timezone

from pymongo.errors import DuplicateKeyError

from ..payments import RAZORPAY

log = logging.getLogger("lms.stats")
COLLECTION = "dailyStats"
DAY = timedelta(days=1)
ALL_TIME = (datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(9999, 1, 1, tzinfo=timezone.utc))
# a movement's kind -> the names of its amount and of its count
KINDS = {"capture": ("captured", "payments"), "refund": ("refunded", "refunds"),
         "dispute_lost": ("disputesLost", "disputes")}
SOURCES = ("enrollments", "certificates", "payments")


def day_of(at):
    return at.astimezone(timezone.utc).strftime("%Y-%m-%d")


# --- what counts where: one key builder per kind of event ---------------------------------

def _enrollment(status, course_id, n):
    return {f"enrollments.{status}": n, f"courses.{course_id}.enrollments": n}


def _completion(n):
    return {"completions": n}


def _certificate(status, n):
    return {f"certificates.{status}": n}


def _free(n):
    return {"free": n}


def _movement(provider, currency, course_id, kind, amount, n):
    """Razorpay's money is revenue (per currency, and per course as net); a simulated capture is
    pretend money, shown apart; a free row moves nothing."""
    if provider == RAZORPAY:
        total, count = KINDS[kind]
        net = amount if kind == "capture" else -amount
        return {f"money.{currency}.{total}": amount, f"money.{currency}.{count}": n,
                f"courses.{course_id}.money.{currency}.net": net, f"courses.{course_id}.money.{currency}.n": n}
    if provider == "simulated" and kind == "capture":
        return {f"simulated.{currency}.amount": amount, f"simulated.{currency}.payments": n}
    return {}


# --- counting as it happens -------------------------------------------------------------

def _bump(db, day, inc):
    if not any(inc.values()):  # (a zero among others stays: a refund of nothing is still a refund)
        return
    for attempt in range(2):
        try:
            db[COLLECTION].update_one({"_id": day}, {"$inc": inc}, upsert=True)
            return
        except DuplicateKeyError:  # two first events of a day upserted at once: the other made it
            if attempt:
                raise


def enrolled(db, enrollment, n=1):
    """An enrollment was inserted (``n=1``) or deleted (``n=-1``)."""
    _bump(db, day_of(enrollment["enrolledAt"]), _enrollment(enrollment["status"], enrollment["courseId"], n))


def enrollment_moved(db, enrollment, old, new):
    """An enrollment went from status ``old`` to ``new``."""
    if old != new:
        _bump(db, day_of(enrollment["enrolledAt"]),
              {f"enrollments.{old}": -1, f"enrollments.{new}": 1})  # the course's count stays


def completed(db, at):
    """An enrollment's ``completedAt`` was set to ``at``."""
    _bump(db, day_of(at), _completion(1))


def certificates_moved(db, certs, old, new):
    """``certs`` went from status ``old`` to ``new`` (``old`` None: they were inserted): one
    write for each day they were created on."""
    if old == new:
        return
    days = Counter(day_of(cert["createdAt"]) for cert in certs)
    for day, n in days.items():
        _bump(db, day, {**(_certificate(old, -n) if old else {}), **_certificate(new, n)})


def money_moved(db, row, movements, n=1):
    """``movements`` were appended to the payment ``row`` (``n=-1``: the row was deleted)."""
    by_day = {}
    for m in movements:
        cell = by_day.setdefault(day_of(m["at"]), {})
        for key, value in _movement(row["provider"], row["currency"], row["courseId"], m["kind"],
                                    m["amount"] * n, n).items():
            cell[key] = cell.get(key, 0) + value
    for day, inc in by_day.items():  # a capture and a refund Razorpay dated earlier: two days
        _bump(db, day, inc)


def paid_instantly(db, row, n=1):
    """A free or simulated payment row was inserted (``n=-1``: deleted)."""
    if row["provider"] == "free":
        _bump(db, day_of(row["createdAt"]), _free(n))
    money_moved(db, row, row.get("movements") or (), n)


# --- counting from the source collections -----------------------------------------------

def _day(field):
    return {"$dateToString": {"format": "%Y-%m-%d", "date": "$" + field}}


def _in(start, end):
    return {"$gte": start, "$lt": end}


def count(db, start, end):
    """{day: flat counters (dotted keys)} of the events in ``[start, end)``, aggregated in the
    database from the source collections, by the rules of the key builders."""
    days = {}

    def add(day, counters):
        cell = days.setdefault(day, {})
        for key, value in counters.items():
            cell[key] = cell.get(key, 0) + value

    for row in db.enrollments.aggregate([
            {"$match": {"enrolledAt": _in(start, end)}},
            {"$group": {"_id": {"day": _day("enrolledAt"), "status": "$status", "course": "$courseId"},
                        "n": {"$sum": 1}}}]):
        add(row["_id"]["day"], _enrollment(row["_id"]["status"], row["_id"]["course"], row["n"]))
    for row in db.enrollments.aggregate([
            {"$match": {"completedAt": _in(start, end)}},
            {"$group": {"_id": _day("completedAt"), "n": {"$sum": 1}}}]):
        add(row["_id"], _completion(row["n"]))
    for row in db.certificates.aggregate([
            {"$match": {"createdAt": _in(start, end)}},
            {"$group": {"_id": {"day": _day("createdAt"), "status": "$status"}, "n": {"$sum": 1}}}]):
        add(row["_id"]["day"], _certificate(row["_id"]["status"], row["n"]))
    for row in db.payments.aggregate([
            {"$match": {"movements.at": _in(start, end)}},
            {"$unwind": "$movements"},
            {"$match": {"movements.at": _in(start, end)}},
            {"$group": {"_id": {"day": _day("movements.at"), "provider": "$provider", "currency": "$currency",
                                "course": "$courseId", "kind": "$movements.kind"},
                        "amount": {"$sum": "$movements.amount"}, "n": {"$sum": 1}}}]):
        key = row["_id"]
        add(key["day"], _movement(key["provider"], key["currency"], key["course"], key["kind"], row["amount"], row["n"]))
    for row in db.payments.aggregate([
            {"$match": {"provider": "free", "createdAt": _in(start, end)}},
            {"$group": {"_id": _day("createdAt"), "n": {"$sum": 1}}}]):
        add(row["_id"], _free(row["n"]))
    return days


def _nest(flat):
    doc = {}
    for key, value in flat.items():
        *path, last = key.split(".")
        cell = doc
        for part in path:
            cell = cell.setdefault(part, {})
        cell[last] = cell.get(last, 0) + value
    return doc


def add(into, doc):
    """Add the counters of ``doc`` (a nested day document) into ``into``."""
    for key, value in doc.items():
        if key == "_id":
            continue
        if isinstance(value, dict):
            add(into.setdefault(key, {}), value)
        else:
            into[key] = into.get(key, 0) + value
    return into


def _midnight(at, up=False):
    day = at.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return day + DAY if up and day < at else day


def read(db, start, end):
    """{day: nested day document} of ``[start, end)``: the whole UTC days from the counters (one
    ``find`` of their ``_id``s), the parts of days at either edge counted from the sources."""
    first, last = _midnight(start, up=True), _midnight(end)
    if first >= last:  # no whole day inside: shorter than two days, count it all
        return {day: _nest(flat) for day, flat in count(db, start, end).items()}
    # The days named one by one: the embedded server answers an ``$in`` on ``_id`` with point
    # lookups, but reads every document of the collection for an ``_id`` range.
    days = [day_of(first + n * DAY) for n in range((last - first) // DAY)]
    found = {doc["_id"]: doc for doc in db[COLLECTION].find({"_id": {"$in": days}})}
    for edge in ((start, first), (last, end)):
        if edge[0] < edge[1]:
            for day, flat in count(db, *edge).items():
                found[day] = add(add({}, found.get(day, {})), _nest(flat))
    return found


# --- rebuilding ---------------------------------------------------------------------------

def rebuild(db):
    """Recount every day from the source collections and write it over the counters; returns
    ``{"days": days written, "removed": days deleted}``."""
    counted = count(db, *ALL_TIME)
    for day, flat in sorted(counted.items()):
        db[COLLECTION].replace_one({"_id": day}, {"_id": day, **_nest(flat)}, upsert=True)
    removed = db[COLLECTION].delete_many({"_id": {"$nin": list(counted)}}).deleted_count
    log.info("stats: rebuilt %s days from the data, removed %s", len(counted), removed)
    return {"days": len(counted), "removed": removed}


def prepare(db, *, stale=False):
    """Rebuild the counters when there are none but there is data (a database from before them),
    or when ``stale`` (the data was rewritten at start-up); returns what ``rebuild`` did, or None."""
    if stale or (db[COLLECTION].find_one({}, {"_id": 1}) is None
                 and any(db[name].find_one({}, {"_id": 1}) for name in SOURCES)):
        return rebuild(db)
    return None
