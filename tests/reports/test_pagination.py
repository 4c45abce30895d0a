"""Pages at any depth: cursors, page numbers for the first pages, cheap totals, index-backed sorts."""
import base64
import json
import random
import time
from datetime import datetime, timedelta, timezone

import pytest
from pymongo import DESCENDING as DESC

from lms.certificates import records
from lms.db import new_id
from lms.learning import enrollments, submissions
from lms.pagination import COUNT_CAP, REACH, index_for, paginate, windowed_field
from lms.reports import lists, payments, users
from support import factories
from support.database import watched

START = datetime(2024, 3, 1, tzinfo=timezone.utc)


def seed_enrollments(db, times):
    """One enrollment (and its student) per time in ``times``, inserted in one go."""
    course = factories.create_course(db)
    people = [factories.student(n, at=at) for n, at in enumerate(times)]
    db.users.insert_many(people)
    rows = [factories.enrollment(p["_id"], course["_id"], at=at, status=random.choice(["active", "pending"]))
            for p, at in zip(people, times)]
    db.enrollments.insert_many(rows)
    return course, rows


def in_order(rows, field, descending=True):
    return [r["_id"] for r in sorted(rows, key=lambda r: (r[field], r["_id"]), reverse=descending)]


def walk(collection, query, sort, limit, **kwargs):
    """Every row of the list, following ``nextCursor`` from the first page."""
    seen, cursor = [], None
    while True:
        page = paginate(collection, query, sort, 1, limit, lambda d: d, cursor=cursor, **kwargs)
        seen += [d["_id"] for d in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            return seen


# --- the order, at any depth ---------------------------------------------------------------

def test_following_cursors_reads_every_row_once_in_order_across_sparse_and_dense_times(db):
    rng = random.Random(7)
    # years of sparse history, a burst of one busy hour, and rows sharing one instant
    times = ([START - timedelta(days=rng.uniform(0, 3000)) for _ in range(60)]
             + [START + timedelta(seconds=rng.uniform(0, 3600)) for _ in range(80)]
             + [START + timedelta(days=2)] * 15)
    _, rows = seed_enrollments(db, times)
    sort = lists.ENROLLMENT_SORTS["newest"]
    assert windowed_field("enrollments", {}, sort) == "enrolledAt"  # the windowed reader is what runs
    assert walk(db.enrollments, {}, sort, 7) == in_order(rows, "enrolledAt")
    assert walk(db.enrollments, {}, lists.ENROLLMENT_SORTS["oldest"], 9) == in_order(rows, "enrolledAt", False)


def test_a_time_range_and_an_equality_filter_are_kept_by_every_window(db):
    rng = random.Random(3)
    _, rows = seed_enrollments(db, [START + timedelta(hours=rng.uniform(-2000, 2000)) for _ in range(120)])
    lo, hi = START - timedelta(days=30), START + timedelta(days=20)
    query = {"status": "active", "enrolledAt": {"$gte": lo, "$lt": hi}}
    expected = [r for r in rows if r["status"] == "active" and lo <= r["enrolledAt"] < hi]
    for name, descending in (("newest", True), ("oldest", False)):
        sort = lists.ENROLLMENT_SORTS[name]
        assert windowed_field("enrollments", query, sort) == "enrolledAt"
        assert walk(db.enrollments, query, sort, 6) == in_order(expected, "enrolledAt", descending)
        first = paginate(db.enrollments, query, sort, 1, 5, lambda d: d)
        assert first["total"] == len(expected) and first["totalIsExact"] is True


def test_sorts_read_plainly_page_the_same_way(db):
    _, rows = seed_enrollments(db, [START + timedelta(minutes=n) for n in range(40)])
    for n, row in enumerate(rows):
        db.enrollments.update_one({"_id": row["_id"]}, {"$set": {"progress": n % 5 * 25}})
    sort = lists.ENROLLMENT_SORTS["progress"]
    assert windowed_field("enrollments", {}, sort) is None
    expected = [r["_id"] for r in db.enrollments.find({}).sort(sort)]
    assert walk(db.enrollments, {}, sort, 6) == expected


def test_a_cursor_page_is_stable_under_inserts(signed_in, db):
    _, rows = seed_enrollments(db, [START + timedelta(minutes=n) for n in range(30)])
    admin = signed_in("admin")
    first = admin.get("/api/admin/enrollments", {"limit": 10}).json
    # new enrollments arrive between the reader's pages; the pages it reads next do not move
    seed_enrollments(db, [datetime.now(timezone.utc) - timedelta(seconds=n) for n in range(5)])
    second = admin.get("/api/admin/enrollments", {"limit": 10, "cursor": first["nextCursor"]}).json
    third = admin.get("/api/admin/enrollments", {"limit": 10, "cursor": second["nextCursor"]}).json
    read = [e["id"] for page in (first, second, third) for e in page["items"]]
    assert read == in_order(rows, "enrolledAt") and third["nextCursor"] is None
    # a page number shifts with the inserts instead: what the cursor is for
    assert admin.get("/api/admin/enrollments", {"limit": 10, "page": 2}).json["items"][0]["id"] != read[10]


@pytest.mark.parametrize("path", ["/api/admin/students", "/api/admin/enrollments", "/api/admin/payments",
                                  "/api/admin/users", "/api/admin/certificates", "/api/admin/logs",
                                  "/api/admin/submissions"])
def test_every_staff_list_pages_by_cursor_as_by_page_number(signed_in, db, path):
    course, rows = seed_enrollments(db, [START + timedelta(minutes=n) for n in range(13)])
    for n, row in enumerate(rows):
        at = START + timedelta(minutes=n)
        db.payments.insert_one(factories.payment(row["userId"], course["_id"], row["_id"], amount=100, at=at))
        db.certificates.insert_one(factories.certificate(row["userId"], course["_id"], status="active", at=at))
        db.submissions.insert_one({"_id": new_id(), "userId": row["userId"], "courseId": course["_id"],
                                   "submissionUrl": "https://example.com/p", "files": [], "status": "pending",
                                   "grade": None, "mentorComments": None, "verified": False, "reviewedBy": None,
                                   "reviewedAt": None, "createdAt": at})
        db.auditLogs.insert_one({"_id": new_id(), "actorId": row["userId"], "action": "test.event",
                                 "targetType": "user", "targetId": row["userId"], "timestamp": at, "details": {}})
    admin = signed_in("admin")
    by_number = [item["id"] for n in (1, 2, 3, 4, 5) for item in admin.get(path, {"limit": 4, "page": n}).json["items"]]
    by_cursor, cursor = [], None
    while True:
        body = admin.get(path, {"limit": 4, **({"cursor": cursor} if cursor else {})}).json
        by_cursor += [item["id"] for item in body["items"]]
        cursor = body["nextCursor"]
        if not cursor:
            break
    assert by_cursor == by_number and len(by_cursor) == len(set(by_cursor)) >= 13
    assert body["totalIsExact"] is True and body["total"] == len(by_cursor)


# --- refusals ------------------------------------------------------------------------------

def test_a_cursor_that_is_not_this_lists_is_a_400_naming_it(signed_in, db):
    seed_enrollments(db, [START + timedelta(minutes=n) for n in range(5)])
    admin = signed_in("admin")
    newest = admin.get("/api/admin/enrollments", {"limit": 2}).json["nextCursor"]
    forged = base64.urlsafe_b64encode(json.dumps(["enrolledAt-,_id-", ["yesterday", 5]]).encode()).decode()
    for bad in ("not-a-cursor", "e30", "W10", newest[:-3], forged):
        response = admin.get("/api/admin/enrollments", {"cursor": bad}, status=400)
        assert set(response.json["error"]["fields"]) == {"cursor"}
    other_sort = admin.get("/api/admin/enrollments", {"cursor": newest, "sort": "oldest"}, status=400)
    assert set(other_sort.json["error"]["fields"]) == {"cursor"}
    with_page = admin.get("/api/admin/enrollments", {"cursor": newest, "page": 2}, status=400)
    assert set(with_page.json["error"]["fields"]) == {"cursor"}


def test_page_numbers_reach_the_first_rows_and_then_say_to_follow_the_cursor(signed_in, db):
    admin = signed_in("admin")
    last = REACH // 20
    assert admin.get("/api/admin/enrollments", {"page": last, "limit": 20}).json["items"] == []
    deep = admin.get("/api/admin/enrollments", {"page": last + 1, "limit": 20}, status=400)
    assert "nextCursor" in deep.json["error"]["fields"]["page"]


# --- totals --------------------------------------------------------------------------------

def test_totals_are_exact_up_to_the_cap_then_estimated_or_bounded(db):
    seed_enrollments(db, [START - timedelta(minutes=n) for n in range(COUNT_CAP + 5)])
    sort = lists.ENROLLMENT_SORTS["newest"]
    unfiltered = paginate(db.enrollments, {}, sort, 1, 20, lambda d: d)
    assert unfiltered["total"] > COUNT_CAP and unfiltered["totalIsExact"] is False
    deadline = time.monotonic() + 10  # the collection's estimate arrives in the background
    while unfiltered["total"] != COUNT_CAP + 5 and time.monotonic() < deadline:
        time.sleep(0.05)
        unfiltered = paginate(db.enrollments, {}, sort, 1, 20, lambda d: d)
    assert (unfiltered["total"], unfiltered["totalIsExact"]) == (COUNT_CAP + 5, False)
    active = db.enrollments.count_documents({"status": "active"})
    filtered = paginate(db.enrollments, {"status": "active"}, sort, 1, 20, lambda d: d)
    assert filtered["totalIsExact"] is (active <= COUNT_CAP)
    assert filtered["total"] == min(active, COUNT_CAP)
    # the last rows are still reached, by cursor
    tail = paginate(db.enrollments, {}, sort, 1, 20, lambda d: d,
                    cursor=paginate(db.enrollments, {}, sort, REACH // 20, 20, lambda d: d)["nextCursor"])
    assert tail["items"] and tail["totalIsExact"] is False


def test_a_whole_collection_far_past_the_cap_is_not_counted_each_page_reads_its_own_rows(db):
    _, rows = seed_enrollments(db, [START - timedelta(minutes=n) for n in range(2 * COUNT_CAP + 5)])
    sort = lists.ENROLLMENT_SORTS["newest"]
    deadline = time.monotonic() + 10  # the collection's estimate arrives in the background
    while paginate(db.enrollments, {}, sort, 1, 20, lambda d: d)["total"] != len(rows):
        assert time.monotonic() < deadline, "no estimate"
        time.sleep(0.05)
    client, watched_db, commands = watched(db)
    try:
        enrollments = watched_db.enrollments
        first = paginate(enrollments, {}, sort, 3, 20, lambda d: d)
        after = paginate(enrollments, {}, sort, 1, 20, lambda d: d, cursor=first["nextCursor"])
    finally:
        client.close()
    assert (first["total"], first["totalIsExact"], after["total"]) == (len(rows), False, len(rows))
    ordered = in_order(rows, "enrolledAt")
    assert [d["_id"] for d in first["items"] + after["items"]] == ordered[40:80]
    limits = [command["limit"] for name, command in commands.sent if name == "find" and "limit" in command]
    assert limits and max(limits) <= 3 * 20 + 1, limits  # no read of 1,001 rows


def test_one_person_s_rows_are_read_in_one_query_however_sparse_their_years(db):
    student = factories.create_user(db)
    years = [START - timedelta(days=400 * n) for n in range(3)]
    db.enrollments.insert_many([factories.enrollment(student["_id"], factories.create_course(db)["_id"], at=at)
                                for at in years])
    client, watched_db, commands = watched(db)
    try:
        page = enrollments.mine(watched_db, student["_id"], 1, 20)
    finally:
        client.close()
    assert [e["enrolledAt"][:10] for e in page["items"]] == [at.date().isoformat() for at in years]
    assert page["total"] == 3
    finds = [command for name, command in commands.sent if name == "find" and command["find"] == "enrollments"]
    assert len(finds) == 2  # the sorted keys, then the rows (windows: one find per window)


# --- every sort has its index --------------------------------------------------------------

# (collection, the list's query with no filter, its sorts): the staff lists.
LISTS = [("users", lists._student_query(None), lists.STUDENT_SORTS), ("users", {}, users.SORTS),
         ("enrollments", {}, lists.ENROLLMENT_SORTS), ("payments", {}, payments.SORTS),
         ("certificates", {}, {"newest": records.SORT}), ("auditLogs", {}, {"newest": lists.AUDIT_SORT}),
         ("submissions", {}, {name: [("createdAt", d), ("_id", d)] for name, d in submissions.SORTS.items()})]


@pytest.mark.parametrize("collection,query,sorts", LISTS, ids=[f"{c}-{'-'.join(q) or 'all'}" for c, q, _ in LISTS])
def test_each_declared_sort_has_an_index(collection, query, sorts):
    for name, sort in sorts.items():
        assert index_for(collection, query, sort), f"{collection} {query} sorted {name}: no index"


@pytest.mark.parametrize("collection,query,sorts", LISTS, ids=[f"{c}-{'-'.join(q) or 'all'}" for c, q, _ in LISTS])
def test_the_database_plans_each_list_query_on_its_index(db, collection, query, sorts):
    db[collection].insert_many([{"_id": new_id(), **query, "createdAt": START, "enrolledAt": START,
                                 "timestamp": START, "email": f"{n}@example.com", "progress": n,
                                 "certId": new_id(), "userId": new_id(), "courseId": new_id()}
                                for n in range(3)])
    for name, sort in sorts.items():
        # the query as the list runs it, its index named (lms.pagination)
        explained = db[collection].find(query).sort(sort).hint(index_for(collection, query, sort)).limit(20).explain()
        stages = list(_stages(explained["queryPlanner"]["winningPlan"]))
        scans = [s for s in stages if s.get("stage") == "IXSCAN"]
        assert scans, f"{collection} sorted {name} is a collection scan: {stages}"
        assert index_for(collection, query, sort) in {s["indexName"] for s in scans}
        if explained.get("serverInfo", {}).get("host") != "secantus":
            # MongoDB: the index gives the order, so no stage sorts in memory (the embedded
            # server always sorts what its index scan fetched)
            assert "SORT" not in {s.get("stage") for s in stages}, stages


def _stages(plan):
    while plan:
        yield plan
        plan = plan.get("inputStage") or (plan.get("inputStages") or [None])[0]


def test_newest_first_lists_are_read_in_windows(db):
    """Where the embedded server reads every row of an index range, windows keep a page's cost
    at the page's size: each staff list's default order qualifies."""
    for collection, query, sorts in LISTS:
        sort = next(iter(sorts.values()))
        if sort[0][1] == DESC and sort[0][0] != "email":
            assert windowed_field(collection, query, sort) == sort[0][0], collection


def test_a_cursor_kept_while_the_range_narrows_starts_at_the_ranges_end(db):
    _, rows = seed_enrollments(db, [START + timedelta(hours=n) for n in range(30)])
    sort = lists.ENROLLMENT_SORTS["newest"]
    cursor = paginate(db.enrollments, {}, sort, 1, 2, lambda d: d)["nextCursor"]  # after the 2 newest
    narrowed = {"enrolledAt": {"$lt": START + timedelta(hours=10)}}
    page = paginate(db.enrollments, narrowed, sort, 1, 5, lambda d: d, cursor=cursor)
    assert [d["_id"] for d in page["items"]] == in_order(rows, "enrolledAt")[20:25]
