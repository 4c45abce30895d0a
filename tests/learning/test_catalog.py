"""What a catalog UI needs: level, category, language, outcomes, instructors, filters on them,
facet counts, and sorts both ways."""
import pytest

from support.factories import create_course, create_user, teaching

ADMIN = "/api/admin/courses"


def titles(response):
    return [course["title"] for course in response.json["items"]]


@pytest.fixture
def shelf(db):
    """Four published courses and a draft, with their catalog fields."""
    made = {}
    for title, price, minutes, fields in (
            ("Go basics", 0, 30, dict(level="beginner", category="programming", language="en", tags=["go"])),
            ("Hindi for travellers", 9900, 10, dict(level="beginner", category="languages", language="hi",
                                                    tags=["travel"])),
            ("advanced Rust", 49900, 50, dict(level="advanced", category="programming", language="en-IN",
                                              tags=["rust", "systems"])),
            ("Unlabelled", 100, 20, dict(tags=["go"]))):
        modules = [{"id": "m", "title": "M", "lessons": [{"id": "l", "title": "L", "durationMin": minutes}]}]
        made[title] = create_course(db, title=title, price=price, modules=modules, **fields)
    create_course(db, title="Hidden draft", status="draft", level="beginner", tags=["go"])
    return made


def test_a_course_shows_its_catalog_fields(client, db):
    teacher = create_user(db, "instructor", name="Meera Nair")
    course = create_course(db, level="intermediate", category="data", language="en-IN",
                           outcomes=["Clean a data set", "Explain a chart"], instructors=[teacher["_id"]])
    card = client.get("/api/courses").json["items"][0]
    assert (card["level"], card["category"], card["language"], card["thumbnailUrl"]) == (
        "intermediate", "data", "en-IN", None)
    assert card["instructors"] == [{"id": teacher["_id"], "name": "Meera Nair"}] and "outcomes" not in card
    page = client.get(f"/api/courses/{course['slug']}").json["course"]
    assert page["outcomes"] == ["Clean a data set", "Explain a chart"] and page["totalDurationMin"] == 17
    db.users.update_one({"_id": teacher["_id"]}, {"$set": {"name": "Meera N."}})
    assert client.get("/api/courses?sort=oldest").json["items"][0]["instructors"][0]["name"] == "Meera N."


def test_new_fields_have_defaults_and_are_validated(signed_in):
    admin = signed_in("admin")
    course = admin.post_json(ADMIN, {"title": "Plain", "price": 0}, status=201).json["course"]
    assert (course["level"], course["category"], course["language"], course["outcomes"]) == (None, None, "en", [])
    for body, field in (({"level": "expert"}, "level"), ({"language": "EN"}, "language"),
                        ({"language": "english"}, "language"), ({"category": ""}, "category"),
                        ({"outcomes": ["x" * 201]}, "outcomes.0"), ({"instructors": ["nope"]}, "instructors.0")):
        response = admin.post_json(ADMIN, {"title": "Bad", "price": 0, **body}, status=400)
        assert field in response.json["error"]["fields"]


@pytest.mark.parametrize("query, expected", [
    ({"level": "beginner"}, ["Hindi for travellers", "Go basics"]),
    ({"category": "Programming"}, ["advanced Rust", "Go basics"]),
    ({"language": "en-IN"}, ["advanced Rust"]), ({"language": "en"}, ["Unlabelled", "Go basics"]),  # en is the default
    ({"level": "beginner", "tag": "go"}, ["Go basics"]), ({"free": "false", "level": "beginner"}, ["Hindi for travellers"]),
])
def test_the_catalog_filters_on_level_category_language_and_more(client, shelf, query, expected):
    assert titles(client.get("/api/courses", {**query, "sort": "newest"})) == expected


def test_the_catalog_filters_by_instructor(client, db, shelf):
    teacher = create_user(db, "instructor")
    teaching(db, shelf["Go basics"], teacher)
    assert titles(client.get("/api/courses", {"instructor": teacher["_id"]})) == ["Go basics"]
    assert "instructor" in client.get("/api/courses?instructor=nope", status=400).json["error"]["fields"]


@pytest.mark.parametrize("sort, expected", [
    ("title", ["advanced Rust", "Go basics", "Hindi for travellers", "Unlabelled"]),
    ("-title", ["Unlabelled", "Hindi for travellers", "Go basics", "advanced Rust"]),
    ("price", ["Go basics", "Unlabelled", "Hindi for travellers", "advanced Rust"]),
    ("-price", ["advanced Rust", "Hindi for travellers", "Unlabelled", "Go basics"]),
    ("duration", ["Hindi for travellers", "Unlabelled", "Go basics", "advanced Rust"]),
    ("-duration", ["advanced Rust", "Go basics", "Unlabelled", "Hindi for travellers"]),
    ("oldest", ["Go basics", "Hindi for travellers", "advanced Rust", "Unlabelled"]),
    ("newest", ["Unlabelled", "advanced Rust", "Hindi for travellers", "Go basics"]),
])
def test_sorts_go_both_ways(client, shelf, sort, expected):
    assert titles(client.get("/api/courses", {"sort": sort})) == expected


def test_facets_count_the_published_courses_the_filters_select(client, shelf):
    body = client.get("/api/courses/facets").json
    assert body["total"] == 4
    assert body["facets"] == {
        "tags": [{"value": "go", "count": 2}, {"value": "rust", "count": 1}, {"value": "systems", "count": 1},
                 {"value": "travel", "count": 1}],
        "levels": [{"value": "beginner", "count": 2}, {"value": "advanced", "count": 1}],
        "categories": [{"value": "programming", "count": 2}, {"value": "languages", "count": 1}],
        "languages": [{"value": "en", "count": 2}, {"value": "en-IN", "count": 1}, {"value": "hi", "count": 1}]}
    narrowed = client.get("/api/courses/facets", {"level": "beginner"}).json
    assert narrowed["total"] == 2 and narrowed["facets"]["tags"] == [{"value": "go", "count": 1},
                                                                     {"value": "travel", "count": 1}]
    assert client.get("/api/courses/facets", {"q": "nothing like it"}).json["total"] == 0
    assert "sort" in client.get("/api/courses/facets?sort=title", status=400).json["error"]["fields"]


def test_facets_is_a_route_never_a_course(signed_in, client, db):
    admin = signed_in("admin")
    assert admin.post_json(ADMIN, {"title": "Facets", "price": 0}, status=201).json["course"]["slug"] == "facets-2"
    fields = admin.post_json(ADMIN, {"title": "Mine", "price": 0, "slug": "facets"}, status=400).json["error"]["fields"]
    assert fields == {"slug": "is reserved"}
    assert "facets" in client.get("/api/courses/facets").json
