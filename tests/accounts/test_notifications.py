"""In-app notifications: what the certificate worker tells a student, listed and marked read."""
from datetime import timedelta

from lms.accounts import notifications
from lms.db import new_id, now
from support.certificates import drain
from support.factories import pending_certificate

URL = "/api/user/notifications"


def notify(db, user_id, n, minutes_ago):
    note = notifications.add(db, user_id, "test", f"Note {n}", f"Body {n}", f"https://lms.test/{n}")
    db.notifications.update_one({"_id": note["_id"]}, {"$set": {"createdAt": now() - timedelta(minutes=minutes_ago)}})
    return note["_id"]


def test_an_issued_certificate_notifies_its_student(signed_in, db, settings):
    student = signed_in()
    cert = pending_certificate(db, settings, user=student.user)
    drain(db, settings)
    body = student.get(URL).json
    assert (body["total"], body["unread"]) == (1, 1)
    [note] = body["items"]
    assert set(note) == {"id", "kind", "title", "body", "link", "read", "readAt", "createdAt"}
    assert (note["kind"], note["title"], note["read"]) == ("certificate.issued", "Your certificate is ready", False)
    assert note["link"] == f"https://lms.test/verify/{cert['certId']}" and cert["certId"] in note["body"]


def test_a_user_sees_only_their_own_newest_first_in_pages(signed_in, db):
    student, other = signed_in(), signed_in()
    ids = [notify(db, student.user["_id"], n, minutes_ago=10 - n) for n in range(5)]
    notify(db, other.user["_id"], 99, minutes_ago=0)
    first = student.get(URL + "?limit=2").json
    assert [n["id"] for n in first["items"]] == [ids[4], ids[3]]
    assert (first["total"], first["unread"], first["page"], first["limit"]) == (5, 5, 1, 2)
    third = student.get(URL + "?limit=2&page=3").json
    assert [n["id"] for n in third["items"]] == [ids[0]]


def test_marking_some_or_all_read(signed_in, db):
    student, other = signed_in(), signed_in()
    ids = [notify(db, student.user["_id"], n, minutes_ago=10 - n) for n in range(3)]
    foreign = notify(db, other.user["_id"], 9, minutes_ago=0)

    marked = student.post_json(URL + "/read", {"ids": [ids[0], foreign, new_id()]}).json
    assert marked == {"ok": True, "marked": 1}, "another user's notification is left alone"
    assert db.notifications.find_one({"_id": foreign})["readAt"] is None
    unread = student.get(URL + "?unread=true").json
    assert [n["id"] for n in unread["items"]] == [ids[2], ids[1]] and unread["unread"] == 2
    read = student.get(URL + "?unread=false").json["items"]
    assert [(n["id"], n["read"], bool(n["readAt"])) for n in read] == [(ids[0], True, True)]

    assert student.post_json(URL + "/read", {}).json["marked"] == 2
    assert student.post_json(URL + "/read", {}).json["marked"] == 0
    assert student.get(URL).json["unread"] == 0


def test_bad_requests_change_nothing(signed_in, client, db):
    student = signed_in()
    notify(db, student.user["_id"], 1, minutes_ago=0)
    for body in ({"ids": ["not-an-id"]}, {"ids": []}, {"ids": {"$ne": None}}, {"ids": [new_id()] * 101}):
        assert "ids" in str(student.post_json(URL + "/read", body, status=400).json["error"]["fields"])
    del student.extra_environ["HTTP_X_XSRF_TOKEN"]
    assert student.post_json(URL + "/read", {}, status=403).json["error"]["code"] == "csrf_failed"
    client.get(URL, status=401)
    client.post_json(URL + "/read", {}, status=401)
    assert db.notifications.count_documents({"readAt": None}) == 1
