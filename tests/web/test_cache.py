"""Public reads are cached briefly, revalidate with ETags, and writes here clear them at once;
anonymous hits are answered before routing, exactly as the plugin would answer them."""
from lms.web.caching import ENTRY_OVERHEAD, MAX_SPELLINGS, ResponseCache
from support.app import app_with, browser
from support.factories import create_course, issued_certificate


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
        assert cache.bytes == sum(entry.cost for entry in cache.entries.values())
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


# --- anonymous hits, answered before routing -------------------------------------------------

CORS = "https://app.example.com"
PER_REQUEST = ("X-Request-Id",)


def routed(app):
    """A list that grows by one each time Bottle routes a request of ``app``."""
    seen = []
    app.bottle.add_hook("before_request", lambda: seen.append(1))
    return seen


def sent(response, leave_out=PER_REQUEST):
    """The response's headers (as sent, names too) but those that differ per request, and
    Cache-Control without its age."""
    leave_out = {name.lower() for name in leave_out}
    return sorted((name, value.rsplit("=", 1)[0] if name == "Cache-Control" else value)
                  for name, value in response.headerlist if name.lower() not in leave_out)


def through_bottle(app):
    """An anonymous client whose requests carry a session cookie that authenticates nobody:
    they take the plugin's way to the same anonymous answer."""
    client = browser(app)
    client.extra_environ["HTTP_COOKIE"] = "access_token=not-a-token"
    return client


def test_an_anonymous_hit_skips_routing_and_sends_the_miss_s_bytes_and_headers(make_settings):
    with app_with(make_settings, LMS_CORS_ORIGINS=CORS) as (runtime, app):
        create_course(runtime.db, title="Fast")
        client, bottle_routed = browser(app), routed(app)
        origin = {"Origin": CORS}
        miss = client.get("/api/courses?page=1", headers=origin)
        hit = client.get("/api/courses?page=1", headers=origin)
        assert len(bottle_routed) == 1  # the hit never reached Bottle
        assert hit.body == miss.body and sent(hit) == sent(miss)
        assert hit.headers["Access-Control-Allow-Origin"] == CORS and hit.headers["X-Content-Type-Options"]
        assert hit.headers["X-Request-Id"] != miss.headers["X-Request-Id"]
        assert hit.headers["Cache-Control"] in ("public, max-age=4", "public, max-age=5")
        slow = through_bottle(app).get("/api/courses?page=1", headers=origin)  # the plugin's hit
        assert len(bottle_routed) == 2 and slow.body == hit.body and sent(slow) == sent(hit)

        head = client.head("/api/courses?page=1")
        assert head.body == b"" and len(bottle_routed) == 2
        assert sent(head) == sent(client.get("/api/courses?page=1"))
        not_modified = client.get("/api/courses?page=1", headers={"If-None-Match": hit.headers["ETag"]}, status=304)
        slow_not_modified = through_bottle(app).get("/api/courses?page=1",
                                                    headers={"If-None-Match": hit.headers["ETag"]}, status=304)
        assert not_modified.body == b"" and len(bottle_routed) == 3
        assert sent(not_modified) == sent(slow_not_modified) and not_modified.headers["ETag"] == hit.headers["ETag"]


def test_a_certificate_hit_matches_the_miss_and_is_not_counted_under_the_limit(client, app, db, settings):
    cert = issued_certificate(db, settings)
    url, bottle_routed = f"/api/certificates/{cert['certId']}", routed(app)
    miss, hit = client.get(url), client.get(url)
    slow = through_bottle(app).get(url)
    assert len(bottle_routed) == 2 and hit.body == miss.body == slow.body
    # The limit guards the database, which no hit reaches: only the miss was counted.
    limit = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
    assert all(name in miss.headers for name in limit) and not any(name in hit.headers for name in limit)
    assert sent(hit) == sent(miss, PER_REQUEST + limit) == sent(slow)
    page_miss, page_hit = client.get(f"/verify/{cert['certId']}"), client.get(f"/verify/{cert['certId']}")
    assert len(bottle_routed) == 3 and page_hit.body == page_miss.body
    assert sent(page_hit) == sent(page_miss, PER_REQUEST + limit)
    assert "default-src" in page_hit.headers["Content-Security-Policy"]


def test_a_write_drops_the_answers_found_before_routing(app, signed_in, db):
    course = create_course(db, title="Old title")
    public, bottle_routed = browser(app), routed(app)
    for _ in range(3):
        assert public.get(f"/api/courses/{course['slug']}").json["course"]["title"] == "Old title"
    assert len(bottle_routed) == 1
    signed_in("admin").put_json(f"/api/admin/courses/{course['_id']}", {"title": "New title"})
    assert public.get(f"/api/courses/{course['slug']}").json["course"]["title"] == "New title"


def test_a_signed_in_read_is_never_answered_with_the_anonymous_entry(app, signed_in, db):
    draft, published = create_course(db, status="draft"), create_course(db, title="Open")
    public = browser(app)
    for _ in range(2):
        public.get(f"/api/courses/{draft['slug']}", status=404)
        assert public.get(f"/api/courses/{published['slug']}").headers["Cache-Control"].startswith("public")
    staff, student = signed_in("instructor"), signed_in("student")
    assert staff.get(f"/api/courses/{draft['slug']}").json["course"]["status"] == "draft"
    assert staff.get(f"/api/courses/{published['slug']}").headers["Cache-Control"].startswith("private")
    assert student.get(f"/api/courses/{published['slug']}").headers["Cache-Control"].startswith("private")


def test_spellings_found_before_routing_are_few_per_answer(client, db, runtime):
    create_course(db, title="Spelled")
    first = client.get("/api/courses").json
    for zeros in range(5):
        for more in ("", "&q=", "&sort=newest", "&limit=20"):
            assert client.get("/api/courses?page=" + "0" * zeros + "1" + more).json == first
    assert len(runtime.cache.entries) == 1 and len(runtime.cache.spelled) == MAX_SPELLINGS
    [entry] = runtime.cache.entries.values()
    assert runtime.cache.bytes == entry.cost > len(entry.data) + MAX_SPELLINGS * ENTRY_OVERHEAD
