"""Public reads are cached briefly, revalidate with ETags, and writes here clear them at once."""
from lms.web.caching import ENTRY_OVERHEAD, ResponseCache
from support.app import app_with, browser
from support.factories import create_course


def test_catalog_answers_carry_an_etag_and_304_when_unchanged(client, db):
    create_course(db, title="Cached course")
    first = client.get("/api/courses")
    assert first.headers["Cache-Control"] == "public, max-age=5"
    etag = first.headers["ETag"]
    again = client.get("/api/courses", headers={"If-None-Match": etag}, status=304)
    assert again.body == b""
    assert client.get("/api/courses", headers={"If-None-Match": '"other"'}).json == first.json


def test_a_cached_answer_keeps_the_database_out_of_the_hot_path(client, db):
    course = create_course(db, title="Before")
    assert client.get(f"/api/courses/{course['slug']}").json["course"]["title"] == "Before"
    # A change that bypasses the API (another replica, a migration) shows after the TTL only.
    db.courses.update_one({"_id": course["_id"]}, {"$set": {"title": "Behind the cache's back"}})
    assert client.get(f"/api/courses/{course['slug']}").json["course"]["title"] == "Before"


def test_a_write_through_the_api_clears_the_cache_at_once(app, signed_in, db):
    course = create_course(db, title="Old title")
    public = browser(app)
    assert public.get(f"/api/courses/{course['slug']}").json["course"]["title"] == "Old title"
    signed_in("admin").put_json(f"/api/admin/courses/{course['_id']}", {"title": "New title"})
    assert public.get(f"/api/courses/{course['slug']}").json["course"]["title"] == "New title"


def test_staff_and_the_public_do_not_share_answers(app, signed_in, db):
    draft = create_course(db, status="draft")
    staff = signed_in("instructor")
    assert staff.get(f"/api/courses/{draft['slug']}").json["course"]["status"] == "draft"
    # a hit: what the answer has left of its 5 seconds here, whole seconds down
    assert staff.get(f"/api/courses/{draft['slug']}").headers["Cache-Control"] in ("private, max-age=4",
                                                                                 "private, max-age=5")
    browser(app).get(f"/api/courses/{draft['slug']}", status=404)


def test_errors_are_not_cached(client, db):
    client.get("/api/courses/not-yet", status=404)
    create_course(db, title="Not yet", slug="not-yet")
    assert client.get("/api/courses/not-yet").json["course"]["slug"] == "not-yet"


# --- what a visitor cannot do: fill it ------------------------------------------------------

def test_the_key_is_what_the_declared_parameters_mean_not_the_query_string(app, client, db, runtime):
    course = create_course(db, title="Keyed")
    first = client.get("/api/courses").json
    db.courses.update_one({"_id": course["_id"]}, {"$set": {"title": "Changed behind the cache"}})
    for same in ("?page=1", "?page=01", "?limit=20&page=1&sort=newest", "?sort=newest&q="):
        assert client.get("/api/courses" + same).json == first, same
    assert len(runtime.cache.entries) == 1
    client.get("/api/courses?zz=1", status=400)  # junk is refused, so never kept
    client.get(f"/api/courses/{course['slug']}?cachebuster=1", status=400)
    assert len(runtime.cache.entries) == 1


def test_the_cache_holds_at_most_its_bytes_and_the_newest_answers(make_settings):
    with app_with(make_settings, LMS_CACHE_BYTES=str(64 * 1024)) as (runtime, app):
        for n in range(12):
            create_course(runtime.db, title=f"Course {n}", description="d" * 200)
        client = browser(app)
        for limit in range(1, 101):  # a hundred distinct answers, up to ~6 KB each
            client.get(f"/api/courses?limit={limit}")
        cache = runtime.cache
        assert cache.bytes <= 64 * 1024 and 1 < len(cache.entries) < 100
        assert cache.bytes == sum(entry[5] for entry in cache.entries.values())
        newest = client.get("/api/courses?limit=100").json
        runtime.db.courses.update_many({}, {"$set": {"title": "Changed"}})
        assert client.get("/api/courses?limit=100").json == newest  # still kept
        assert client.get("/api/courses?limit=1").json["items"][0]["title"] == "Changed"  # long gone


def test_answers_over_an_eighth_of_the_cache_are_not_kept_and_expired_ones_go(make_settings):
    with app_with(make_settings, LMS_CACHE_BYTES="8192") as (runtime, app):
        course = create_course(runtime.db, description="d" * 2000)
        browser(app).get(f"/api/courses/{course['slug']}")
        assert runtime.cache.entries == {}
    cache = ResponseCache(ttl=0.0, max_bytes=10 ** 6)
    for n in range(100):
        cache.put("courses", n, 200, {}, "x" * 1000)
    assert len(cache.entries) == 1 and cache.bytes == 1000 + ENTRY_OVERHEAD
