"""The account's own settings and the admins' view of every account: a name change, PATCH bodies
that refuse fields they do not know, passwords nobody should use, and the list of all users."""
import csv
import io

import pytest

from support.factories import create_user, issued_certificate, sign_in

SIGNUP = "/api/auth/signup"


def test_a_user_changes_their_name_and_issued_certificates_keep_theirs(app, db, settings):
    user = create_user(db, name="Old Name")
    cert = issued_certificate(db, settings, user=user)
    client = sign_in(app, user)
    answer = client.patch_json("/api/user/me", {"name": "  New Name "})
    assert answer.json["user"]["name"] == "New Name"
    assert client.get("/api/user/me").json["user"]["name"] == "New Name"
    assert db.certificates.find_one({"_id": cert["_id"]})["studentName"] == "Old Name"
    entry = db.auditLogs.find_one({"action": "user.profile_update"})
    assert entry["targetId"] == user["_id"] and entry["details"] == {"fields": ["name"]}
    assert "New Name" not in str(entry), "the trail says what changed, not the personal data"


@pytest.mark.parametrize("body, field", [({"name": "Me", "role": "admin"}, "role"),
                                         ({"email": "me@example.com"}, "email"), ({"name": ""}, "name"), ({}, "name")])
def test_the_profile_refuses_fields_it_does_not_know_or_cannot_take(app, db, body, field):
    user = create_user(db)
    answer = sign_in(app, user).patch_json("/api/user/me", body, status=400)
    assert field in answer.json["error"]["fields"]
    assert db.users.find_one({"_id": user["_id"]})["role"] == "student"


def test_admin_changes_refuse_fields_they_do_not_know(signed_in, db):
    admin = signed_in("admin")
    target = create_user(db)
    answer = admin.patch_json(f"/api/admin/users/{target['_id']}", {"role": "instructor", "emailVerified": True},
                              status=400)
    assert answer.json["error"]["fields"] == {"emailVerified": "is not a field that can be changed here"}
    assert db.users.find_one({"_id": target["_id"]})["role"] == "student", "nothing of the body was applied"


# --- passwords nobody should use -----------------------------------------------------------

@pytest.mark.parametrize("password, reason", [("Password123", "most used"), ("QWERTYUIOP", "most used"),
                                              ("amit@example.com", "e-mail"), ("AMIT@example.com", "e-mail"),
                                              ("amit@example.com2024", "e-mail"), ("amit", "at least 8")])
def test_sign_up_refuses_a_common_password_or_ones_own_address_and_says_why(client, db, password, reason):
    answer = client.post_json(SIGNUP, {"name": "Amit", "email": "amit@example.com", "password": password}, status=400)
    assert reason in answer.json["error"]["fields"]["password"]
    assert db.users.count_documents({}) == 0


def test_the_bundled_list_is_the_top_of_the_breach_corpus():
    from lms.accounts import passwords
    common = passwords._common()
    assert {"password", "12345678", "iloveyou", "qwertyuiop"} <= common
    assert all(len(p.encode()) >= 8 for p in common) and 3000 < len(common) < 10000


# --- every account, for admins -------------------------------------------------------------

def test_admins_list_every_account_of_any_role(signed_in, db):
    admin = signed_in("admin")
    promoted = create_user(db, name="Promoted Teacher", email="teacher@example.com")
    admin.patch_json(f"/api/admin/users/{promoted['_id']}", {"role": "instructor"})
    gone = create_user(db, name="Gone Student")
    admin.patch_json(f"/api/admin/users/{gone['_id']}", {"disabled": True})
    listed = admin.get("/api/admin/users").json
    assert listed["total"] == 3 and {u["role"] for u in listed["items"]} == {"admin", "instructor", "student"}
    assert "passwordHash" not in str(listed)
    assert [u["id"] for u in admin.get("/api/admin/users", {"role": "instructor"}).json["items"]] == [promoted["_id"]]
    assert [u["id"] for u in admin.get("/api/admin/users", {"disabled": "true"}).json["items"]] == [gone["_id"]]
    assert len(admin.get("/api/admin/users", {"disabled": "false"}).json["items"]) == 2
    assert [u["name"] for u in admin.get("/api/admin/users", {"q": "TEACH"}).json["items"]] == ["Promoted Teacher"]
    assert admin.get("/api/admin/users", {"q": "("}).json["total"] == 0  # plain text, not a pattern
    paged = admin.get("/api/admin/users", {"sort": "email", "limit": 2, "page": 2}).json
    assert (paged["page"], paged["limit"], len(paged["items"])) == (2, 2, 1)
    assert admin.get("/api/admin/users", {"role": "owner"}, status=400).json["error"]["fields"]["role"]
    assert admin.get("/api/admin/users", {"whatever": "1"}, status=400)


def test_the_list_of_accounts_downloads_as_csv_and_is_audited(signed_in, db):
    admin = signed_in("admin")
    create_user(db, name="=HYPERLINK(\"x\")", email="formula@example.com")
    answer = admin.get("/api/admin/users", {"format": "csv", "role": "student"})
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert answer.headers["Content-Disposition"] == 'attachment; filename="users.csv"'
    rows = list(csv.reader(io.StringIO(answer.body.decode("utf-8-sig"))))
    assert rows[0] == ["id", "name", "email", "role", "emailVerified", "disabled", "createdAt", "updatedAt"]
    assert [row[1] for row in rows[1:]] == ["'=HYPERLINK(\"x\")"]
    entry = db.auditLogs.find_one({"action": "report.export", "targetId": "users"})
    assert entry["actorId"] == admin.user["_id"] and entry["details"] == {"sort": "newest", "role": "student"}


def test_only_admins_list_accounts(signed_in):
    assert signed_in("instructor").get("/api/admin/users", status=403).json["error"]["code"] == "forbidden"


def test_a_user_who_has_not_signed_up_with_a_common_password_signs_in_with_it(app, db):
    # Accounts from before the list existed keep working; the list applies to new passwords only.
    user = create_user(db)
    db.users.update_one({"_id": user["_id"]}, {"$set": {"passwordHash": create_user(db, password="iloveyou1")[
        "passwordHash"]}})
    client = sign_in(app, {**user, "password": "iloveyou1"})
    assert client.get("/api/user/me").json["user"]["id"] == user["_id"]
