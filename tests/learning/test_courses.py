"""Courses: the public catalog, course pages, authoring by staff, archive versus delete, demo data."""
import threading
from datetime import datetime, timezone

import pytest

from lms.db import iso, new_id
from lms.learning import courses, demo
from support.factories import create_course, create_user
from support.live import call

ADMIN = "/api/admin/courses"
NEW = {"title": "Intro to Go", "description": "Goroutines and channels", "price": 29900,
       "tags": ["Go", "concurrency", "go"],
       "modules": [{"title": "Basics", "lessons": [{"title": "Hello", "content": "package main"}]}]}


def ids(response):
    return [course["id"] for course in response.json["items"]]


def stored(db):
    return db.courses.count_documents({}), db.auditLogs.count_documents({"targetType": "course"})


# --- the catalog ------------------------------------------------------------------------

def test_the_catalog_lists_published_courses_as_cards(client, db):
    shown = create_course(db, title="Shown")
    create_course(db, status="draft")
    archived = create_course(db)
    db.courses.update_one({"_id": archived["_id"]}, {"$set": {"status": "archived"}})
    body = client.get("/api/courses").json
    assert (body["ok"], body["page"], body["limit"], body["total"]) == (True, 1, 20, 1)
    item = body["items"][0]
    assert item["id"] == shown["_id"] and "_id" not in item and "modules" not in item
    assert (item["price"], item["currency"], item["free"]) == (49900, "INR", False)
    assert (item["lessonCount"], item["totalDurationMin"], item["moduleCount"]) == (2, 17, 1)
    assert item["createdAt"].endswith("Z") and "titleKey" not in item


def test_the_catalog_filters_by_tag_and_by_price(client, db):
    free = create_course(db, price=0, tags=["python", "beginner"])
    paid = create_course(db, tags=["web"])
    assert ids(client.get("/api/courses?tag=Beginner")) == [free["_id"]]
    assert ids(client.get("/api/courses?free=true")) == [free["_id"]]
    assert ids(client.get("/api/courses?free=false")) == [paid["_id"]]
    assert ids(client.get("/api/courses?free=true&tag=web")) == []


def test_search_needs_every_word_in_the_title_or_description_in_any_case(client, db):
    both = create_course(db, title="Python for Data", description="Pandas and NumPy")
    create_course(db, title="Python for the Web", description="Django")
    assert ids(client.get("/api/courses?q=python+PANDAS")) == [both["_id"]]
    assert len(ids(client.get("/api/courses?q=pYtHoN"))) == 2


@pytest.mark.parametrize("q, expected", [("C++", ["C++ in depth"]), ("(", ["Regex (advanced)"]),
                                         (".*", []), ("[", []), ("c\\", []), ("$where", [])])
def test_search_matches_regex_characters_literally(client, db, q, expected):
    for title in ("C++ in depth", "C basics", "Regex (advanced)"):
        create_course(db, title=title)
    found = client.get("/api/courses", {"q": q}).json["items"]
    assert [course["title"] for course in found] == expected


def test_sorts_newest_by_title_ignoring_case_and_by_price(client, db):
    for title, price in (("banana", 300), ("Apple", 100), ("cherry", 200)):
        create_course(db, title=title, price=price)
    titles = lambda sort: [c["title"] for c in client.get(f"/api/courses?sort={sort}").json["items"]]
    assert titles("newest") == titles("") == ["cherry", "Apple", "banana"]
    assert titles("title") == ["Apple", "banana", "cherry"]
    assert titles("price") == ["Apple", "cherry", "banana"]


@pytest.mark.parametrize("sort, newest_first", [("price", False), ("newest", True)])
def test_pages_of_tied_courses_never_repeat_or_skip_one(client, db, sort, newest_first):
    made = [create_course(db, price=100)["_id"] for _ in range(7)]
    db.courses.update_many({}, {"$set": {"createdAt": datetime(2025, 1, 1, tzinfo=timezone.utc)}})
    seen = []
    for page in (1, 2, 3, 4):
        body = client.get(f"/api/courses?sort={sort}&limit=2&page={page}").json
        assert body["total"] == 7 and len(body["items"]) == (2 if page < 4 else 1)
        seen += [course["id"] for course in body["items"]]
    assert seen == sorted(made, reverse=newest_first)  # the tie-breaker is _id, in the sort's direction
    assert client.get(f"/api/courses?sort={sort}&limit=2&page=5").json["items"] == []


@pytest.mark.parametrize("query, field", [
    ("page=0", "page"), ("limit=101", "limit"), ("limit=0", "limit"), ("limit=ten", "limit"),
    ("page=-1", "page"), ("sort=popular", "sort"), ("free=maybe", "free"), ("colour=red", "colour"),
    ("tag[$ne]=x", "tag[$ne]"), ("q=" + "x" * 101, "q"), ("status=draft", "status"),
])
def test_the_catalog_rejects_bad_query_parameters_naming_them(client, query, field):
    response = client.get(f"/api/courses?{query}", status=400)
    assert response.json["error"]["code"] == "validation_error"
    assert field in response.json["error"]["fields"]


# --- a course's page ---------------------------------------------------------------------

def test_a_course_page_names_every_lesson_but_shows_content_of_previews_only(client, db):
    create_course(db, slug="go-deep")
    course = client.get("/api/courses/go-deep").json["course"]
    assert (course["lessonCount"], course["totalDurationMin"]) == (2, 17)
    intro, setup = course["modules"][0]["lessons"]
    assert (intro["title"], intro["content"], intro["videoUrl"]) == (
        "Introduction", "Welcome aboard", "https://videos.example.com/intro.mp4")
    assert (setup["title"], setup["content"], setup["videoUrl"]) == ("Set up", None, None)
    assert "Install things" not in client.get("/api/courses/go-deep").text


def test_a_draft_is_404_to_the_public_and_readable_by_staff(client, signed_in, db):
    create_course(db, slug="hidden", status="draft")
    for caller in (client, signed_in("student")):
        assert caller.get("/api/courses/hidden", status=404).json["error"]["code"] == "not_found"
    for role in ("instructor", "admin"):
        assert signed_in(role).get("/api/courses/hidden").json["course"]["status"] == "draft"
    client.get("/api/courses/nope", status=404)


def test_an_archived_course_leaves_the_catalog_but_keeps_its_page(client, db):
    course = create_course(db, slug="retired", tags=["retired"])
    db.courses.update_one({"_id": course["_id"]}, {"$set": {"status": "archived"}})
    assert client.get("/api/courses").json["total"] == 0
    assert client.get("/api/courses/facets").json["facets"]["tags"] == []
    page = client.get("/api/courses/retired").json["course"]
    assert page["status"] == "archived" and page["modules"][0]["lessons"][1]["content"] is None


# --- authoring ---------------------------------------------------------------------------

def test_staff_create_a_draft_course_with_generated_ids_and_an_audit_entry(signed_in, db):
    instructor = signed_in("instructor")
    response = instructor.post_json(ADMIN, NEW, status=201)
    course = response.json["course"]
    assert (course["slug"], course["status"], course["currency"], course["requiresProject"]) == (
        "intro-to-go", "draft", "INR", False)
    assert course["tags"] == ["go", "concurrency"]  # lower-cased, repeats dropped
    lesson = course["modules"][0]["lessons"][0]
    assert lesson["content"] == "package main" and lesson["id"] and course["modules"][0]["id"]
    assert (lesson["preview"], lesson["durationMin"], lesson["videoUrl"]) == (False, 0, None)
    assert course["certificateValidityDays"] is None
    saved = db.courses.find_one({"_id": course["id"]})
    assert saved["price"] == 29900 and saved["modules"][0]["lessons"][0]["id"] == lesson["id"]
    entry = db.auditLogs.find_one({"action": "course.create"})
    assert (entry["actorId"], entry["targetId"], entry["ip"]) == (
        instructor.user["_id"], course["id"], "203.0.113.7")
    assert entry["requestId"] == response.headers["X-Request-Id"]


def lesson(**fields):
    return {**NEW, "modules": [{"title": "M", "lessons": [{"title": "L", **fields}]}]}


@pytest.mark.parametrize("body, field", [
    ({**NEW, "price": -1}, "price"), ({**NEW, "price": 499.5}, "price"), ({**NEW, "price": "100"}, "price"),
    ({**NEW, "price": {"$gt": 0}}, "price"), ({**NEW, "price": True}, "price"),
    ({"title": "No price"}, "price"), ({**NEW, "currency": "inr"}, "currency"),
    ({**NEW, "currency": "RUPEE"}, "currency"), ({**NEW, "title": ""}, "title"),
    ({**NEW, "title": "t" * 201}, "title"), ({**NEW, "title": {"$ne": None}}, "title"),
    ({**NEW, "status": "live"}, "status"), ({**NEW, "slug": "Not a slug!"}, "slug"),
    ({**NEW, "tags": "go"}, "tags"), ({**NEW, "tags": ["x" * 33]}, "tags.0"),
    ({**NEW, "description": "d" * 5001}, "description"), ({**NEW, "modules": {}}, "modules"),
    ({**NEW, "requiresProject": "yes"}, "requiresProject"),
    ({**NEW, "certificateValidityDays": 0}, "certificateValidityDays"),
    ({**NEW, "modules": [{"id": "has space", "title": "M"}]}, "modules.0.id"),
    ({**NEW, "modules": [{"title": "M", "lessons": [{}]}]}, "modules.0.lessons.0.title"),
    (lesson(videoUrl="javascript:alert(1)"), "modules.0.lessons.0.videoUrl"),
    (lesson(videoUrl="ftp://files.example.com/a.mp4"), "modules.0.lessons.0.videoUrl"),
    (lesson(content="c" * 100_001), "modules.0.lessons.0.content"),
    (lesson(durationMin=-5), "modules.0.lessons.0.durationMin"),
    (lesson(preview="true"), "modules.0.lessons.0.preview"),
])
def test_authoring_rejects_invalid_fields_and_stores_nothing(signed_in, db, body, field):
    response = signed_in("admin").post_json(ADMIN, body, status=400)
    assert response.json["error"]["code"] == "validation_error"
    assert field in response.json["error"]["fields"]
    assert stored(db) == (0, 0)


def test_module_ids_and_lesson_ids_must_be_unique_within_the_course(signed_in, db):
    admin = signed_in("admin")
    modules = [{"id": "m1", "title": "A", "lessons": [{"id": "intro", "title": "1"}]},
               {"id": "m1", "title": "B", "lessons": [{"id": "intro", "title": "2"}]}]
    fields = admin.post_json(ADMIN, {**NEW, "modules": modules}, status=400).json["error"]["fields"]
    assert fields == {"modules.1.id": "repeats the id of modules.0",
                      "modules.1.lessons.0.id": "repeats the id of modules.0.lessons.0"}
    assert stored(db) == (0, 0)


def test_a_published_course_needs_a_lesson(signed_in, db):
    admin = signed_in("admin")
    empty = {**NEW, "modules": [{"title": "Soon", "lessons": []}], "status": "published"}
    assert "status" in admin.post_json(ADMIN, empty, status=400).json["error"]["fields"]
    draft = admin.post_json(ADMIN, {**empty, "status": "draft"}, status=201).json["course"]
    admin.put_json(f"{ADMIN}/{draft['id']}", {"status": "published"}, status=400)
    assert db.courses.find_one({"_id": draft["id"]})["status"] == "draft"


def test_slugs_come_from_titles_and_collisions_get_a_number(signed_in):
    admin = signed_in("admin")
    slug = lambda **fields: admin.post_json(ADMIN, {**NEW, **fields}, status=201).json["course"]["slug"]
    assert [slug(title="Python Basics!") for _ in range(3)] == ["python-basics", "python-basics-2",
                                                                 "python-basics-3"]
    assert slug(title="C++ & C# Primer") == "c-plus-plus-and-c-sharp-primer"
    assert slug(title="Café Crème") == "cafe-creme"
    assert slug(title="पायथन") == "course"
    assert slug(title="Mine", slug="Custom-Slug") == "custom-slug"


def test_a_taken_explicit_slug_is_a_conflict(signed_in, db):
    admin = signed_in("admin")
    create_course(db, slug="taken")
    other = create_course(db, slug="other")
    response = admin.post_json(ADMIN, {**NEW, "slug": "taken"}, status=409)
    assert response.json["error"]["code"] == "slug_taken"
    assert admin.put_json(f"{ADMIN}/{other['_id']}", {"slug": "taken"}, status=409).json["error"][
        "code"] == "slug_taken"
    assert db.courses.count_documents({}) == 2 and db.courses.find_one({"_id": other["_id"]})["slug"] == "other"


def test_concurrent_creations_get_one_slug_each_over_a_real_server(live_server, db):
    server = live_server()
    admin = create_user(db, "admin")
    auth = server.sign_in(admin)

    def race(body, n=8):
        results = []
        threads = [threading.Thread(target=lambda: results.append(
            call("POST", server.url + ADMIN, body, auth))) for _ in range(n)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        return results

    statuses = [status for status, _, _ in race({**NEW, "slug": "race"})]
    assert statuses.count(201) == 1 and statuses.count(409) == 7
    assert db.courses.count_documents({"slug": "race"}) == 1
    slugs = sorted(body["course"]["slug"] for _, body, _ in race({**NEW, "title": "Race"}, n=5))
    assert slugs == ["race-2", "race-3", "race-4", "race-5", "race-6"]  # "race" is the explicit one's
    assert db.auditLogs.count_documents({"action": "course.create"}) == 6  # none for the 409s


def test_an_update_changes_the_named_fields_and_keeps_the_rest(signed_in, db):
    admin = signed_in("admin")
    course = create_course(db, slug="kept", status="draft")
    modules = admin.get(f"{ADMIN}/{course['_id']}").json["course"]["modules"]
    modules[0]["lessons"].append({"title": "Added", "durationMin": 3})
    changed = admin.put_json(f"{ADMIN}/{course['_id']}", {
        "title": "Renamed", "price": 0, "status": "published", "modules": modules}).json["course"]
    assert (changed["title"], changed["price"], changed["free"], changed["slug"]) == ("Renamed", 0, True, "kept")
    assert (changed["description"], changed["tags"]) == (course["description"], course["tags"])
    assert courses.lesson_ids(db.courses.find_one({"_id": course["_id"]}))[:2] == ["intro", "setup"]
    assert changed["updatedAt"] > changed["createdAt"] == iso(course["createdAt"])
    entry = db.auditLogs.find_one({"action": "course.update"})
    assert entry["actorId"] == admin.user["_id"] and entry["targetId"] == course["_id"]
    assert set(entry["details"]["fields"]) == {"title", "price", "status", "modules"}
    assert entry["details"]["status"] == {"from": "draft", "to": "published"}


def test_an_update_that_changes_nothing_writes_nothing(signed_in, db):
    course = create_course(db, price=100)
    signed_in("admin").put_json(f"{ADMIN}/{course['_id']}", {"price": 100})
    assert db.courses.find_one({"_id": course["_id"]})["updatedAt"] == course["updatedAt"]
    assert db.auditLogs.count_documents({"action": "course.update"}) == 0


@pytest.mark.parametrize("course_id", ["0123456789abcdef01234567", "not-an-id", "x" * 300, "%24ne"])
def test_unknown_or_malformed_course_ids_are_404(signed_in, db, course_id):
    create_course(db)
    admin = signed_in("admin")
    for method, args in ((admin.get, ()), (admin.put_json, ({"price": 1},)), (admin.delete, ())):
        response = method(f"{ADMIN}/{course_id}", *args, status=404)
        assert response.json["error"]["code"] == "not_found"
    assert db.auditLogs.count_documents({"targetType": "course"}) == 1  # the factory's create only


def test_an_update_is_validated_like_a_creation(signed_in, db):
    course = create_course(db)
    admin = signed_in("admin")
    for body, field in (({"price": -1}, "price"), ({"title": None}, "title"),
                        ({"modules": [{"title": "M", "lessons": [{"id": "a", "title": "x"},
                                                                  {"id": "a", "title": "y"}]}]},
                         "modules.0.lessons.1.id")):
        assert field in admin.put_json(f"{ADMIN}/{course['_id']}", body, status=400).json["error"]["fields"]
    assert db.courses.find_one({"_id": course["_id"]}) == course


def test_the_editor_reads_every_lesson_and_the_admin_list_every_status(signed_in, db):
    admin = signed_in("instructor")
    course = create_course(db)
    draft = create_course(db, status="draft")
    full = admin.get(f"{ADMIN}/{course['_id']}").json["course"]
    assert full["modules"][0]["lessons"][1]["content"] == "Install things"
    assert set(ids(admin.get(ADMIN))) == {course["_id"], draft["_id"]}
    assert ids(admin.get(ADMIN + "?status=draft")) == [draft["_id"]]
    body = admin.get(ADMIN + "?limit=1&page=2&sort=title").json
    assert (body["total"], body["page"], len(body["items"])) == (2, 2, 1)
    assert "status" in admin.get(ADMIN + "?status=gone", status=400).json["error"]["fields"]


# --- removing ----------------------------------------------------------------------------

def test_delete_removes_a_course_nobody_enrolled_in(signed_in, client, db):
    admin = signed_in("admin")
    course = create_course(db, slug="gone")
    assert admin.delete(f"{ADMIN}/{course['_id']}").json == {"ok": True, "id": course["_id"], "outcome": "deleted"}
    assert db.courses.count_documents({}) == 0
    client.get("/api/courses/gone", status=404)
    entry = db.auditLogs.find_one({"action": "course.delete"})
    assert entry["actorId"] == admin.user["_id"] and entry["details"]["slug"] == "gone"


def test_delete_archives_a_course_with_enrollments_which_stay_readable(signed_in, client, db):
    admin = signed_in("admin")
    course = create_course(db, slug="kept")
    student = create_user(db)
    enrollment = {"_id": new_id(), "userId": student["_id"], "courseId": course["_id"], "status": "active"}
    db.enrollments.insert_one(enrollment)
    assert admin.delete(f"{ADMIN}/{course['_id']}").json["outcome"] == "archived"
    assert db.courses.find_one({"_id": course["_id"]})["status"] == "archived"
    assert db.enrollments.find_one({"_id": enrollment["_id"]}) == enrollment
    assert client.get("/api/courses").json["total"] == 0
    assert client.get("/api/courses/kept").json["course"]["status"] == "archived"
    entry = db.auditLogs.find_one({"action": "course.archive"})
    assert entry["actorId"] == admin.user["_id"] and entry["details"]["previousStatus"] == "published"


def test_students_and_strangers_cannot_author(signed_in, client, db):
    course = create_course(db)
    path = f"{ADMIN}/{course['_id']}"
    for caller, status in ((signed_in("student"), 403), (client, 401)):
        caller.get(ADMIN, status=status)
        caller.get(path, status=status)
        caller.post_json(ADMIN, NEW, status=status)
        caller.put_json(path, {"price": 0}, status=status)
        caller.delete(path, status=status)
    assert db.courses.find_one({"_id": course["_id"]}) == course
    assert stored(db) == (1, 1)


# --- helpers for other areas, and demo data -----------------------------------------------

def test_lessons_are_found_by_module_and_id(db):
    course = create_course(db)
    assert courses.lesson_ids(course) == ["intro", "setup"] and courses.lesson_count(course) == 2
    module, found = courses.find_lesson(course, "m1", "setup")
    assert module["id"] == "m1" and found["title"] == "Set up"
    assert courses.find_lesson(course, "m2", "setup") is None
    assert courses.find_lesson(course, "m1", "nope") is None


def test_the_demo_seed_creates_three_kinds_of_course_once(client, db):
    slugs = demo.seed(db)
    assert len(slugs) == 3 and demo.seed(db) == []
    cards = {c["slug"]: c for c in client.get("/api/courses?limit=100").json["items"]}
    assert set(cards) == set(slugs)
    kinds = {(c["free"], c["requiresProject"]) for c in cards.values()}
    assert kinds == {(True, False), (False, False), (False, True)}
    for slug in slugs:
        course = client.get(f"/api/courses/{slug}").json["course"]
        previews = [lesson for m in course["modules"] for lesson in m["lessons"] if lesson["preview"]]
        assert 1 <= len(previews) <= 2 and all(lesson["content"] for lesson in previews)
        assert course["lessonCount"] >= 4
    assert db.auditLogs.count_documents({"action": "course.create", "actorId": "system"}) == 3
