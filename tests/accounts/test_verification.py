"""E-mail verification in its three modes (LMS_EMAIL_VERIFICATION), the enumeration-safe sign-up of
``required`` mode, resending a link, and changing an account's address."""
import threading
from datetime import timedelta

import pytest

from lms.accounts import users
from lms.db import now
from support.accounts import link_token, mailed_token, mails_to, run_errands
from support.app import app_with, browser
from support.factories import PASSWORD, create_course, create_user, sign_in
from support.live import call
from support.waits import wait_until

SIGNUP, LOGIN, VERIFY = "/api/auth/signup", "/api/auth/login", "/api/auth/verify-email"
NEW = {"name": "Asha Rao", "email": "asha@example.com", "password": "a long enough one"}


@pytest.fixture
def required(make_settings):
    with app_with(make_settings, LMS_EMAIL_VERIFICATION="required") as service:
        yield service


def client_from(app, address):
    client = browser(app)
    client.extra_environ["REMOTE_ADDR"] = address
    return client


# --- optional (the default) and off --------------------------------------------------------

def test_optional_signs_in_at_once_and_mails_a_single_use_link(client, db, runtime):
    answer = client.post_json(SIGNUP, NEW, status=201)
    assert answer.json["user"]["emailVerified"] is False
    [mail] = mails_to(runtime, NEW["email"], "verify_email")
    assert "https://lms.test/verify-email?token=" in mail["text"]
    token = link_token(mail)
    assert db.emailTokens.find_one({"purpose": "verify"})["tokenHash"] != token  # stored hashed
    assert (db.emailTokens.find_one()["expiresAt"] - db.emailTokens.find_one()["createdAt"]) == timedelta(hours=24)
    client.extra_environ["HTTP_X_XSRF_TOKEN"] = answer.json["csrfToken"]
    client.post_json("/api/enroll", {"courseId": create_course(db, price=0)["_id"]}, status=201)  # not needed here
    client.post_json(VERIFY, {"token": token})
    assert client.get("/api/user/me").json["user"]["emailVerified"] is True
    again = client.post_json(VERIFY, {"token": token}, status=400)
    assert again.json["error"]["code"] == "invalid_token"
    assert db.auditLogs.count_documents({"action": "user.email_verify", "targetId": answer.json["user"]["id"]}) == 1


def test_an_expired_or_unknown_link_verifies_nothing(client, db, runtime):
    client.post_json(SIGNUP, NEW, status=201)
    token = mailed_token(runtime, NEW["email"], "verify_email")
    db.emailTokens.update_many({}, {"$set": {"expiresAt": now() - timedelta(seconds=1)}})
    for attempt in (token, "x" * 43):
        assert client.post_json(VERIFY, {"token": attempt}, status=400).json["error"]["code"] == "invalid_token"
    assert db.users.find_one({"email": NEW["email"]})["emailVerified"] is False


def test_off_mails_nothing_and_asks_for_nothing(make_settings):
    with app_with(make_settings, LMS_EMAIL_VERIFICATION="off") as (runtime, app):
        client = browser(app)
        assert client.post_json(SIGNUP, NEW, status=201).json["user"]["emailVerified"] is False
        client.post_json("/api/auth/resend-verification", {"email": NEW["email"]})
        run_errands(runtime)
        assert runtime.db.mails.count_documents({}) == 0 and runtime.db.emailTokens.count_documents({}) == 0
        browser(app).post_json(LOGIN, {"email": NEW["email"], "password": NEW["password"]})


# --- required ------------------------------------------------------------------------------

def comparable(answer):
    """What a stranger sees of an answer, less what differs for any two requests."""
    headers = sorted((k, v) for k, v in answer.headerlist if k not in ("X-Request-Id",))
    return answer.status_int, answer.body, headers


def test_required_sign_up_answers_alike_for_new_and_existing_addresses(required):
    runtime, app = required
    existing = create_user(runtime.db, email="taken@example.com")
    fresh = client_from(app, "198.51.100.1").post_json(SIGNUP, NEW, status=202)
    taken = client_from(app, "198.51.100.2").post_json(SIGNUP, {**NEW, "email": "taken@example.com"}, status=202)
    assert comparable(fresh) == comparable(taken)
    assert "Set-Cookie" not in fresh.headers and fresh.json == {"ok": True, "message": fresh.json["message"]}
    assert runtime.db.users.count_documents({}) == 1, "accounts are made after the answer"

    [link] = mails_to(runtime, NEW["email"])
    assert link["kind"] == "verify_email"
    [notice] = mails_to(runtime, "taken@example.com")
    assert notice["kind"] == "address_in_use" and "token" not in notice["text"]
    assert "https://lms.test/forgot-password" in notice["text"]
    assert runtime.db.users.find_one({"_id": existing["_id"]})["passwordHash"] == existing["passwordHash"]
    created = runtime.db.users.find_one({"email": NEW["email"]})
    assert created["name"] == NEW["name"] and created["emailVerified"] is False
    assert runtime.db.errands.count_documents({}) == 0


def test_required_sign_in_needs_a_verified_address(required):
    runtime, app = required
    browser(app).post_json(SIGNUP, NEW, status=202)
    token = mailed_token(runtime, NEW["email"], "verify_email")
    refused = browser(app).post_json(LOGIN, {"email": NEW["email"], "password": NEW["password"]}, status=403)
    assert refused.json["error"]["code"] == "email_unverified" and "Set-Cookie" not in refused.headers
    wrong = browser(app).post_json(LOGIN, {"email": NEW["email"], "password": "not the one"}, status=401)
    assert wrong.json["error"]["code"] == "invalid_credentials"  # the verification is no oracle
    browser(app).post_json(VERIFY, {"token": token})
    signed = browser(app).post_json(LOGIN, {"email": NEW["email"], "password": NEW["password"]})
    assert signed.json["user"]["emailVerified"] is True


def test_required_refuses_an_unverified_session_everything_but_its_own_account(required):
    runtime, app = required
    course = create_course(runtime.db, price=0)
    user = create_user(runtime.db)  # signed in before the mode was switched on
    client = sign_in_anyway(app, runtime, user)
    assert client.get("/api/user/me").json["user"]["emailVerified"] is False  # the account's own routes
    refused = client.post_json("/api/enroll", {"courseId": course["_id"], "paymentMode": "simulated"}, status=403)
    assert refused.json["error"]["code"] == "email_unverified"
    client.get("/api/enrollments", status=403)
    client.post_json("/api/auth/resend-verification", {"email": user["email"]})
    client.post_json(VERIFY, {"token": mailed_token(runtime, user["email"], "verify_email")})
    client.post_json("/api/enroll", {"courseId": course["_id"], "paymentMode": "simulated"}, status=201)


def sign_in_anyway(app, runtime, user):
    """A session of an unverified user, as one started before verification became required."""
    runtime.db.users.update_one({"_id": user["_id"]}, {"$set": {"emailVerified": True}})
    client = sign_in(app, user)
    runtime.db.users.update_one({"_id": user["_id"]}, {"$set": {"emailVerified": False}})
    return client


def test_racing_required_sign_ups_of_one_address_make_one_account(live_server, db):
    server = live_server(LMS_EMAIL_VERIFICATION="required", LMS_WORKER="1")
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(call("POST", server.url + SIGNUP, NEW)[0]))
               for _ in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert answers == [202] * 6
    assert wait_until(lambda: db.errands.count_documents({}) == 0 and db.mails.count_documents({}) == 6)
    assert db.users.count_documents({"email": NEW["email"]}) == 1
    kinds = sorted(m["kind"] for m in db.mails.find())
    assert kinds == ["address_in_use"] * 5 + ["verify_email"]


def test_resending_answers_alike_and_mails_only_an_unverified_account(client, db, runtime):
    unverified, verified = create_user(db), create_user(db)
    db.users.update_one({"_id": verified["_id"]}, {"$set": {"emailVerified": True}})
    answers = [client_from(client.app, f"198.51.100.{n}").post_json("/api/auth/resend-verification", {"email": email})
               for n, email in enumerate((unverified["email"], verified["email"], "ghost@example.com"))]
    assert len({(a.status_int, a.body) for a in answers}) == 1
    run_errands(runtime)
    assert [m["to"] for m in db.mails.find()] == [unverified["email"]]
    for _ in range(2):
        client.post_json("/api/auth/resend-verification", {"email": unverified["email"]})
    client.post_json("/api/auth/resend-verification", {"email": unverified["email"]}, status=429)


def test_operators_admins_count_as_verified(db):
    admin = users.ensure_admin(db, email="ops@example.com", password="operator password", rounds=4)
    assert admin["emailVerified"] is True


# --- changing the address ------------------------------------------------------------------

def test_a_new_address_is_the_accounts_once_its_link_is_opened(app, db, runtime):
    user = create_user(db)
    client = sign_in(app, user)
    answer = client.post_json("/api/user/email", {"email": "new@example.com", "password": PASSWORD}, status=202)
    assert answer.json["message"]
    assert client.get("/api/user/me").json["user"]["email"] == user["email"], "nothing changes before the link"
    [mail] = mails_to(runtime, "new@example.com", "email_change")
    assert mails_to(runtime, user["email"], "email_changed") == []
    browser(app).post_json(VERIFY, {"token": link_token(mail)})  # opened on another device
    shown = client.get("/api/user/me").json["user"]
    assert (shown["email"], shown["emailVerified"]) == ("new@example.com", True)
    [notice] = mails_to(runtime, user["email"], "email_changed")
    assert "new@example.com" in notice["text"]
    browser(app).post_json(LOGIN, {"email": user["email"], "password": PASSWORD}, status=401)
    browser(app).post_json(LOGIN, {"email": "new@example.com", "password": PASSWORD})
    actions = [e["action"] for e in db.auditLogs.find({"targetId": user["_id"]}).sort("timestamp", 1)]
    assert actions[-2:] == ["user.email_change_request", "user.email_change"]
    assert "new@example.com" not in str(list(db.auditLogs.find())), "the trail names no address"


def test_a_taken_new_address_gets_the_same_answer_and_its_owner_a_notice(app, db, runtime):
    user, owner = create_user(db), create_user(db)
    client = sign_in(app, user)
    free = client.post_json("/api/user/email", {"email": "free@example.com", "password": PASSWORD}, status=202)
    taken = client.post_json("/api/user/email", {"email": owner["email"], "password": PASSWORD}, status=202)
    assert free.json == taken.json
    assert [m["kind"] for m in mails_to(runtime, owner["email"])] == ["address_in_use"]
    assert db.emailTokens.count_documents({"purpose": "change", "email": owner["email"]}) == 0


def test_a_change_needs_the_password_and_a_different_address(app, db):
    user = create_user(db)
    client = sign_in(app, user)
    wrong = client.post_json("/api/user/email", {"email": "new@example.com", "password": "guess"}, status=400)
    assert wrong.json["error"]["code"] == "wrong_password"
    same = client.post_json("/api/user/email", {"email": user["email"].upper(), "password": PASSWORD}, status=400)
    assert "email" in same.json["error"]["fields"]
    assert db.errands.count_documents({}) == 0


def test_a_link_to_an_address_taken_meanwhile_changes_nothing(app, db, runtime):
    user = create_user(db)
    client = sign_in(app, user)
    client.post_json("/api/user/email", {"email": "wanted@example.com", "password": PASSWORD}, status=202)
    token = mailed_token(runtime, "wanted@example.com", "email_change")
    create_user(db, email="wanted@example.com")
    clash = browser(app).post_json(VERIFY, {"token": token}, status=409)
    assert clash.json["error"]["code"] == "email_taken"
    assert db.users.find_one({"_id": user["_id"]})["email"] == user["email"]
    assert db.emailTokens.find_one({"purpose": "change"})["usedAt"] is None
