"""Public reads are cached briefly, revalidate with ETags, and writes here clear them at once."""
from support.app import browser
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
    signed_in("instructor").put_json(f"/api/admin/courses/{course['_id']}", {"title": "New title"})
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
