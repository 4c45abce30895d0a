"""Editing courses while people learn: stable ids, refusing to drop learners' work, PATCH, the
lifecycle, strict PUT/PATCH bodies, If-Match, and who may change a course."""
import threading

import pytest

from lms.db import new_id
from lms.learning import courses
from lms.routes import ROUTES
from support.factories import PNG, create_course, create_user, enroll
from support.live import call
from support.progress import recount, stored

ADMIN = "/api/admin/courses"
OUTLINE = [{"id": "m1", "title": "Basics", "lessons": [
    {"id": "l1", "title": "One", "preview": True, "durationMin": 5, "content": "first"},
    {"id": "l2", "title": "Two", "durationMin": 7, "content": "second", "videoUrl": "https://v.example.com/2"}]},
    {"id": "m2", "title": "More", "lessons": [{"id": "l3", "title": "Three", "durationMin": 9, "content": "third"}]}]


def path(course):
    return f"{ADMIN}/{course['_id']}"


def learner(signed_in, course, *lessons):
    """A student enrolled in ``course`` who completed ``lessons`` ((module, lesson) pairs)."""
    student = signed_in()
    enroll(student, course, status=201)
    for module, lesson in lessons:
        student.post_json("/api/progress/complete-lesson",
                          {"courseId": course["_id"], "moduleId": module, "lessonId": lesson})
    return student


def percentage(client, course):
    return client.get(f"/api/progress/{course['_id']}").json["progress"]["percentage"]


# --- learners' work survives edits ----------------------------------------------------------

def test_an_editor_that_drops_lesson_ids_is_told_which_lessons_have_learners(signed_in, db):
    course = create_course(db, price=0, modules=OUTLINE)
    first = learner(signed_in, course, ("m1", "l1"), ("m1", "l2"))
    learner(signed_in, course, ("m1", "l1"))
    admin = signed_in("admin")
    naive = [{"title": m["title"], "lessons": [{"title": lesson["title"]} for lesson in m["lessons"]]} for m in OUTLINE]
    refused = admin.put_json(path(course), {"modules": naive}, status=409).json
    assert refused["error"]["code"] == "lessons_have_progress" and "l1, l2" in refused["error"]["message"]
    assert refused["lessons"] == [{"id": "l1", "moduleId": "m1", "title": "One", "learners": 2},
                                  {"id": "l2", "moduleId": "m1", "title": "Two", "learners": 1}]
    half = admin.put_json(path(course), {"modules": naive, "confirmRemoval": ["l1"]}, status=409).json
    assert [lesson["id"] for lesson in half["lessons"]] == ["l2"]
    assert db.courses.find_one({"_id": course["_id"]}) == course
    assert db.auditLogs.count_documents({"action": "course.update"}) == 0
    assert percentage(first, course) == 66

    done = admin.put_json(path(course), {"modules": naive, "confirmRemoval": ["l1", "l2"]}).json["course"]
    assert not {"l1", "l2", "l3"} & {lesson["id"] for m in done["modules"] for lesson in m["lessons"]}
    entry = db.auditLogs.find_one({"action": "course.update"})
    assert entry["details"]["removedLessons"] == ["l1", "l2", "l3"] and len(entry["details"]["addedLessons"]) == 3
    assert recount(db) == 1
    assert percentage(first, course) == 0 and stored(db, first.user["_id"], course["_id"]) == (0, 0, 3)
    assert db.progress.count_documents({"courseId": course["_id"]}) == 3  # kept: re-adding the ids restores them


def test_a_module_or_lesson_sent_with_its_id_keeps_every_field_it_leaves_out(signed_in, db):
    course = create_course(db, price=0, modules=OUTLINE)
    admin = signed_in("admin")
    sent = [{"id": "m1", "lessons": [{"id": "l2", "title": "Two, renamed"}, {"id": "l1"}]}, {"id": "m2"},
            {"title": "New", "lessons": [{"title": "Four"}]}]
    changed = admin.put_json(path(course), {"modules": sent}).json["course"]
    m1, m2, new = db.courses.find_one({"_id": course["_id"]})["modules"]
    assert (m1["title"], [lesson["id"] for lesson in m1["lessons"]]) == ("Basics", ["l2", "l1"])
    assert m1["lessons"][0] == {"id": "l2", "title": "Two, renamed", "preview": False, "durationMin": 7,
                                "content": "second", "videoUrl": "https://v.example.com/2"}
    assert m1["lessons"][1]["content"] == "first" and m1["lessons"][1]["preview"] is True
    assert m2["lessons"][0]["content"] == "third"
    assert (new["title"], new["lessons"][0]["title"], new["lessons"][0]["content"]) == ("New", "Four", "")
    assert changed["totalDurationMin"] == 21 and new["id"] and new["lessons"][0]["id"]


def test_moving_and_reordering_lessons_keeps_progress(signed_in, db):
    course = create_course(db, price=0, modules=OUTLINE)
    student = learner(signed_in, course, ("m2", "l3"))
    moved = [{"id": "m1", "lessons": [{"id": "l3"}, {"id": "l2"}, {"id": "l1"}]}, {"id": "m2", "lessons": []}]
    signed_in("admin").put_json(path(course), {"modules": moved})
    assert recount(db) == 0  # the same lessons: nothing to recount
    shown = student.get(f"/api/progress/{course['_id']}").json["progress"]
    assert (shown["percentage"], shown["lessons"][0]["moduleId"]) == (33, "m1")
    assert shown["nextLesson"] == {"id": "l2", "moduleId": "m1", "title": "Two"}
    again = student.post_json("/api/progress/complete-lesson", {"courseId": course["_id"], "moduleId": "m1",
                                                                "lessonId": "l3"}).json
    assert again["progress"]["completedLessons"] == 1


@pytest.mark.parametrize("modules, field", [
    ([{"lessons": []}], "modules.0.title"), ([{"id": "m1", "lessons": [{"preview": True}]}], "modules.0.lessons.0.title"),
    ([{"id": "m1", "lessons": [{"id": "l9"}]}], "modules.0.lessons.0.title")])
def test_new_modules_and_lessons_need_a_title(signed_in, db, modules, field):
    course = create_course(db, modules=OUTLINE)
    assert field in signed_in("admin").put_json(path(course), {"modules": modules}, status=400).json["error"]["fields"]
    assert db.courses.find_one({"_id": course["_id"]}) == course


def test_lessons_nobody_completed_are_removed_without_confirmation(signed_in, db):
    course = create_course(db, price=0, modules=OUTLINE)
    learner(signed_in, course, ("m1", "l1"))
    signed_in("admin").put_json(path(course), {"modules": OUTLINE[:1]})
    assert courses.lesson_ids(db.courses.find_one({"_id": course["_id"]})) == ["l1", "l2"]


def test_patch_changes_details_and_never_the_outline(signed_in, db):
    course = create_course(db, modules=OUTLINE)
    admin = signed_in("admin")
    changed = admin.patch_json(path(course), {"title": "Renamed", "price": 100, "level": "advanced",
                                              "outcomes": ["Ship it"]}).json["course"]
    assert (changed["title"], changed["price"], changed["level"], changed["outcomes"]) == (
        "Renamed", 100, "advanced", ["Ship it"])
    assert db.courses.find_one({"_id": course["_id"]})["modules"] == course["modules"]
    refused = admin.patch_json(path(course), {"modules": []}, status=400).json["error"]["fields"]
    assert refused == {"modules": "is not a field that can be changed here"}


# --- the lifecycle ------------------------------------------------------------------------

def test_a_course_with_learners_is_archived_and_reopened_but_never_a_draft_again(signed_in, client, db):
    course = create_course(db, price=0)
    learner(signed_in, course)
    admin = signed_in("admin")
    error = admin.patch_json(path(course), {"status": "draft"}, status=409).json["error"]
    assert error["code"] == "course_has_enrollments"
    admin.patch_json(path(course), {"status": "archived"})
    assert client.get("/api/courses").json["total"] == 0
    newcomer = signed_in()
    newcomer.post_json("/api/enroll", {"courseId": course["_id"]}, status=404)
    admin.patch_json(path(course), {"status": "published"})
    enroll(newcomer, course, status=201)
    empty = create_course(db)
    assert admin.patch_json(path(empty), {"status": "draft"}).json["course"]["status"] == "draft"


def test_learners_of_an_archived_course_keep_its_lessons_progress_and_certificate(signed_in, db):
    course = create_course(db, price=0)
    student = learner(signed_in, course, ("m1", "intro"))
    assert signed_in("admin").delete(path(course)).json["outcome"] == "archived"
    lesson = f"/api/courses/{course['slug']}/lessons/setup"
    assert student.get(lesson).json["lesson"]["content"] == "Install things"
    assert percentage(student, course) == 50
    done = student.post_json("/api/progress/complete-lesson",
                             {"courseId": course["_id"], "moduleId": "m1", "lessonId": "setup"}).json
    assert done["certificateCreated"] is True and done["progress"]["nextLesson"] is None
    student.post_json("/api/submissions", {"courseId": course["_id"], "submissionUrl": "https://e.com/p"}, status=201)
    assert student.get("/api/enrollments").json["items"][0]["status"] == "active"
    stranger = signed_in()
    assert stranger.get(lesson, status=403).json["error"]["code"] == "not_enrolled"
    assert stranger.get(f"/api/courses/{course['slug']}/lessons/intro").json["lesson"]["content"] == "Welcome aboard"
    stranger.post_json("/api/enroll", {"courseId": course["_id"]}, status=404)


def test_a_draft_is_hidden_from_everyone_but_staff_and_its_learners(signed_in, client, db):
    course = create_course(db, status="draft")
    client.get(f"/api/courses/{course['slug']}/lessons/intro", status=404)
    signed_in().get(f"/api/courses/{course['slug']}/lessons/intro", status=404)
    assert signed_in("instructor").get(f"/api/courses/{course['slug']}/lessons/setup").json["lesson"]["id"] == "setup"


# --- bodies: PUT and PATCH refuse what they do not know -------------------------------------

EDITS = [route for route in ROUTES if route.method in ("PUT", "PATCH") and route.body is not None]


def test_the_routes_that_edit_with_a_body_are_the_ones_expected():
    assert {(r.method, r.path) for r in EDITS} >= {("PUT", "/api/admin/courses/<id>"),
                                                  ("PATCH", "/api/admin/courses/<id>"),
                                                  ("PATCH", "/api/admin/users/<id>")}


@pytest.mark.parametrize("route", EDITS, ids=lambda route: f"{route.method} {route.path}")
def test_every_put_and_patch_refuses_unknown_fields_naming_them(signed_in, route):
    url = route.path.replace("<id>", new_id())
    send = getattr(signed_in("admin"), route.method.lower() + "_json")
    response = send(url, {"nmae": "x"}, status=400)
    assert response.json["error"]["fields"]["nmae"] == "is not a field that can be changed here"


def test_an_unknown_field_changes_nothing(signed_in, db):
    user, course = create_user(db), create_course(db, modules=OUTLINE)
    admin = signed_in("admin")
    admin.patch_json(f"/api/admin/users/{user['_id']}", {"name": "Someone Else"}, status=400)
    assert db.users.find_one({"_id": user["_id"]})["name"] == user["name"]
    typo = [{"id": "m1", "lessons": [{"id": "l1", "contnet": "new words"}]}, {"id": "m2"}]
    fields = admin.put_json(path(course), {"modules": typo}, status=400).json["error"]["fields"]
    assert fields == {"modules.0.lessons.0.contnet": "is not a field that can be changed here"}
    assert db.courses.find_one({"_id": course["_id"]}) == course


def test_post_bodies_keep_ignoring_unknown_fields(signed_in):
    body = {"title": "Forward", "price": 0, "colour": "red",
            "modules": [{"title": "M", "extra": 1, "lessons": [{"title": "L", "draftNotes": "x"}]}]}
    assert signed_in("admin").post_json(ADMIN, body, status=201).json["course"]["title"] == "Forward"


# --- two editors: If-Match ------------------------------------------------------------------

def test_if_match_refuses_an_edit_of_a_version_the_editor_has_not_seen(signed_in, db):
    course = create_course(db)
    admin = signed_in("admin")
    etag = admin.get(path(course)).headers["ETag"]
    assert etag == f'"{courses.version(course)}"'
    newer = admin.patch_json(path(course), {"title": "A"}, headers={"If-Match": etag}).headers["ETag"]
    assert newer != etag
    stale = admin.patch_json(path(course), {"title": "B"}, headers={"If-Match": etag}, status=412)
    assert stale.json["error"]["code"] == "precondition_failed"
    admin.put_json(path(course), {"title": "C"}, headers={"If-Match": f"W/{newer}"}, status=412)
    assert db.courses.find_one({"_id": course["_id"]})["title"] == "A"
    admin.put_json(path(course), {"title": "C"}, headers={"If-Match": f'"0", {newer}'})
    assert admin.patch_json(path(course), {"title": "D"}, headers={"If-Match": "*"}).json["course"]["title"] == "D"


def test_two_instructors_editing_one_course_at_once_over_a_real_server(live_server, db):
    server = live_server()
    editors = [create_user(db, "instructor") for _ in range(2)]
    course = create_course(db, instructors=[e["_id"] for e in editors])
    url = server.url + path(course)
    sessions = [server.sign_in(e) for e in editors]

    def race(bodies, match):
        barrier, answers = threading.Barrier(2), {}

        def edit(n):
            headers = {**sessions[n], **({"If-Match": match} if match else {})}
            barrier.wait()
            answers[n] = call("PATCH", url, bodies[n], headers)[0]
        threads = [threading.Thread(target=edit, args=(n,)) for n in range(2)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        return answers

    for round_ in range(3):  # both read the same version; one edit lands, the other is told
        _, _, headers = call("GET", url, None, sessions[0])
        answers = race([{"title": f"First {round_}"}, {"title": f"Second {round_}"}], headers["ETag"])
        assert sorted(answers.values()) == [200, 412]
        winner = min(answers, key=answers.get)
        assert db.courses.find_one({"_id": course["_id"]})["title"] == ("First", "Second")[winner] + f" {round_}"
    # Without If-Match, edits of different fields both land: the loser recomputes from the winner.
    assert race([{"price": 111}, {"description": "Both land"}], None) == {0: 200, 1: 200}
    saved = db.courses.find_one({"_id": course["_id"]})
    assert (saved["price"], saved["description"]) == (111, "Both land")


# --- who may change a course ----------------------------------------------------------------

def test_instructors_change_only_the_courses_they_teach(signed_in, db):
    owner, other, admin = signed_in("instructor"), signed_in("instructor"), signed_in("admin")
    made = owner.post_json(ADMIN, {"title": "Mine", "price": 0}, status=201).json["course"]
    assert made["instructors"] == [{"id": owner.user["_id"], "name": owner.user["name"]}]
    url = f"{ADMIN}/{made['id']}"
    before = db.courses.find_one({"_id": made["id"]})
    for response in (other.put_json(url, {"title": "x"}, status=403), other.patch_json(url, {"price": 1}, status=403),
                     other.delete(url, status=403),
                     other.put(url + "/thumbnail", upload_files=[("file", "a.png", PNG)], status=403)):
        assert response.json["error"]["code"] == "not_course_instructor"
    assert db.courses.find_one({"_id": made["id"]}) == before
    assert other.get(url).json["course"]["id"] == made["id"]  # reading stays open to staff
    owner.patch_json(url, {"instructors": [owner.user["_id"], other.user["_id"]]})
    assert other.patch_json(url, {"price": 5}).json["course"]["price"] == 5
    assert admin.patch_json(url, {"price": 7}).json["course"]["price"] == 7
    assert [c["id"] for c in admin.get(ADMIN, {"instructor": other.user["_id"]}).json["items"]] == [made["id"]]


def test_instructors_are_instructor_or_admin_accounts(signed_in, db):
    course = create_course(db)
    student = create_user(db)
    fields = signed_in("admin").patch_json(path(course), {"instructors": [student["_id"], new_id()]},
                                           status=400).json["error"]["fields"]
    assert set(fields) == {"instructors.0", "instructors.1"}
    assert db.courses.find_one({"_id": course["_id"]})["instructors"] == []
