"""A user's data: the export holds everything stored about them and nothing of anyone else's;
deleting the account leaves no personal field of theirs in any collection, removes their files,
ends their sessions, and keeps (or, when asked, revokes) their certificates."""
import json

from lms.web.ratelimit import RULES
from support.app import app_with, browser
from support.factories import PASSWORD, create_user, learner_with_history, sign_in
from support.submissions import stored_files

NAME, EMAIL, ADDRESS = "Zubin Quartermaine", "zubin.q@example.org", "198.51.100.199"
AGENT = "ZubinBrowser/7.1 (deletion walk)"
OTHER = dict(name="Other Person", email="other.person@example.net", address="192.0.2.44", user_agent="OtherAgent/1.0")


def history(app, runtime, **identity):
    return learner_with_history(app, runtime, **({"name": NAME, "email": EMAIL, "address": ADDRESS,
                                                   "user_agent": AGENT} | identity))


def everything(db):
    """collection -> its documents, for a walk through the whole database."""
    return {name: list(db[name].find()) for name in sorted(db.list_collection_names())}


def mentions(document, marker):
    return marker.lower() in json.dumps(document, default=str).lower()


# --- export ---------------------------------------------------------------------------------

def test_the_export_holds_what_is_stored_about_the_user_and_nothing_of_anyone_elses(app, db, runtime):
    client, course, user, _ = history(app, runtime)
    history(app, runtime, **OTHER)
    answer = client.get("/api/user/export")
    assert answer.headers["Content-Disposition"] == f'attachment; filename="lms-account-{user["_id"]}.json"'
    export = answer.json["export"]
    assert export["profile"]["email"] == EMAIL and export["profile"]["name"] == NAME
    [session] = export["sessions"]
    assert (session["userAgent"], session["ip"], session["current"]) == (AGENT, ADDRESS, True)
    assert session["revokedAt"] is None
    assert len(export["enrollments"]) == 2 and {e["userId"] for e in export["enrollments"]} == {user["_id"]}
    assert {(p["courseId"], p["lessonId"]) for p in export["progress"]} == {(course["_id"], "intro"),
                                                                         (course["_id"], "setup")}
    [submission] = export["submissions"]
    assert submission["files"][0]["url"].startswith("https://lms.test/files/submissions/")
    assert submission["mentorComments"] == f"Well done, {NAME}"
    [certificate] = export["certificates"]
    assert certificate["student"]["name"] == NAME and certificate["verifyUrl"].startswith("https://lms.test/verify/")
    assert {p["provider"] for p in export["payments"]} == {"free", "simulated"}
    assert sorted(n["kind"] for n in export["notifications"]) == ["certificate.issued", "submission.reviewed"]
    actions = {e["action"] for e in export["auditEntries"]}
    assert {"user.create", "user.email_change_request", "submission.create", "submission.approve"} <= actions
    text = json.dumps(export)
    for theirs in (OTHER["name"], OTHER["email"], OTHER["address"], OTHER["user_agent"]):
        assert theirs.lower() not in text.lower()
    mentor_entries = [e for e in export["auditEntries"] if e["actorId"] != user["_id"]]
    assert mentor_entries and all(e["ip"] is None for e in mentor_entries), "a staff member's address is theirs"
    assert "passwordHash" not in text and user["passwordHash"] not in text


# --- deletion -------------------------------------------------------------------------------

def test_deleting_the_account_leaves_no_personal_field_in_any_collection(app, db, runtime, settings):
    client, course, user, key = history(app, runtime)
    history(app, runtime, **OTHER)
    other_before = {name: [d for d in docs if mentions(d, OTHER["email"])] for name, docs in everything(db).items()}
    cert = db.certificates.find_one({"userId": user["_id"]})
    kept_access = client.cookies["access_token"]

    answer = client.delete_json("/api/user/me", {"password": PASSWORD})
    assert answer.json["certificatesKept"] == 1 and answer.json["certificatesRevoked"] == 0
    assert all("Max-Age=0" in c for c in answer.headers.getall("Set-Cookie"))

    markers = (NAME, EMAIL, f"new.{EMAIL}", AGENT, ADDRESS, user["passwordHash"], key, f"-of-{ADDRESS}", "98765 199")
    walked = everything(db)
    assert {"users", "sessions", "emailTokens", "auditLogs", "rateLimits", "payments", "certificates",
            "enrollments", "notifications", "mails", "progress", "submissions"} <= set(walked)
    for name, documents in walked.items():
        for document in documents:
            if name == "certificates" and document["userId"] == user["_id"]:
                assert document["studentName"] == NAME  # the rule: issued under this name, still verifiable
                document = {k: v for k, v in document.items() if k != "studentName"}
            if name == "rateLimits" and RULES[document["_id"].split(":", 1)[0]].key == "ip":
                continue  # an address's counter is not the account's, and ends within the hour
            found = [m for m in markers if mentions(document, m)]
            assert not found, f"{name} still holds {found}: {document}"
    assert db.users.count_documents({"_id": user["_id"]}) == 0
    assert db.sessions.count_documents({"userId": user["_id"]}) == 0
    assert db.enrollments.count_documents({"userId": user["_id"]}) == 2, "course statistics keep their numbers"
    assert db.payments.count_documents({"userId": user["_id"]}) == 2, "accounting keeps the amounts"

    assert not any(key in str(path) for path in stored_files(settings)), "the uploaded file is gone"
    assert any(cert["certId"] in str(path) for path in stored_files(settings)), "the certificate's PDF stays"
    shown = browser(app).get(f"/api/certificates/{cert['certId']}").json
    assert (shown["status"], shown["student"]["name"]) == ("active", NAME)

    other_after = {name: [d for d in docs if mentions(d, OTHER["email"])] for name, docs in everything(db).items()}
    assert other_after == {name: docs for name, docs in other_before.items() if name in other_after}
    entry = db.auditLogs.find_one({"action": "user.delete"})
    assert entry["targetId"] == user["_id"] and entry["ip"] is None and entry["details"] == {
        "certificatesRevoked": 0, "certificatesKept": 1}

    stale = browser(app)
    stale.set_cookie("access_token", kept_access)
    assert stale.get("/api/user/me", status=401)
    browser(app).post_json("/api/auth/login", {"email": EMAIL, "password": PASSWORD}, status=401)
    browser(app).post_json("/api/auth/signup", {"name": "Someone New", "email": EMAIL, "password": PASSWORD},
                           status=201)  # the address is free again


def test_deleting_with_revoke_certificates_revokes_them_and_they_say_why(app, db, runtime):
    client, _, user, _ = history(app, runtime)
    cert = db.certificates.find_one({"userId": user["_id"]})
    answer = client.delete_json("/api/user/me", {"password": PASSWORD, "revokeCertificates": True})
    assert (answer.json["certificatesRevoked"], answer.json["certificatesKept"]) == (1, 0)
    shown = browser(app).get(f"/api/certificates/{cert['certId']}").json
    assert (shown["status"], shown["revokeReason"]) == ("revoked", "account deleted")
    assert db.notifications.count_documents({}) == 0 or not db.notifications.find_one({"userId": user["_id"]})
    revocation = db.auditLogs.find_one({"action": "certificate.revoke"})
    assert revocation["ip"] is None and not mentions(revocation, EMAIL)


def test_a_wrong_password_deletes_nothing(app, db):
    user = create_user(db)
    client = sign_in(app, user)
    before = everything(db)
    refused = client.delete_json("/api/user/me", {"password": "not mine"}, status=400)
    assert refused.json["error"]["code"] == "wrong_password"
    after = everything(db)
    after.pop("rateLimits", None), before.pop("rateLimits", None)  # the failure was counted
    assert after == before
    assert client.get("/api/user/me").status_int == 200


def test_the_last_admin_cannot_delete_their_account(app, db):
    admin = sign_in(app, create_user(db, "admin"))
    refused = admin.delete_json("/api/user/me", {"password": PASSWORD}, status=409)
    assert refused.json["error"]["code"] == "last_admin"
    assert db.users.count_documents({"_id": admin.user["_id"]}) == 1
    create_user(db, "admin")
    admin.delete_json("/api/user/me", {"password": PASSWORD})
    assert db.users.count_documents({"_id": admin.user["_id"]}) == 0


def test_a_storage_failure_leaves_the_account_as_it_was_and_deleting_again_finishes(make_settings, cloudinary_double):
    with app_with(make_settings, CLOUDINARY_URL=cloudinary_double.url) as (runtime, app):
        client, _, user, key = history(app, runtime)
        assert key in cloudinary_double.uploads
        cloudinary_double.fail_next(1)
        failed = client.delete_json("/api/user/me", {"password": PASSWORD}, status=503)
        assert failed.json["error"]["code"] == "storage_unavailable"
        db = runtime.db
        assert db.users.count_documents({"_id": user["_id"]}) == 1 and db.submissions.count_documents({}) == 1
        assert client.get("/api/user/me").status_int == 200, "still signed in, to try again"
        client.delete_json("/api/user/me", {"password": PASSWORD})
        assert key not in cloudinary_double.uploads and db.users.count_documents({"_id": user["_id"]}) == 0
