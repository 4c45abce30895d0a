"""Accounts and sessions: sign-up, sign-in, rotation, theft detection, CSRF, roles, resets."""
import base64
import json
import re
import threading
import time
from datetime import datetime, timedelta, timezone

import jwt
import pytest

from lms.accounts import sessions
from lms.routes import ROUTES
from support.accounts import mailed_token, mails_to, presenting
from support.app import SECRET, app_with, browser
from support.factories import PASSWORD, create_user, sign_in
from support.live import call

NEW = {"name": "Amit Kumar", "email": "  Amit@Example.COM ", "password": "s3cure-enough"}


def set_cookies(response):
    return {c.split("=", 1)[0]: c for c in response.headers.getall("Set-Cookie")}


# --- sign-up ----------------------------------------------------------------------------

def test_signup_creates_the_account_and_signs_in(client, db):
    response = client.post_json("/api/auth/signup", NEW, status=201)
    user = response.json["user"]
    assert user["email"] == "amit@example.com" and user["role"] == "student"
    assert set(user) == {"id", "name", "email", "role", "emailVerified", "disabled", "createdAt", "updatedAt"}
    assert user["emailVerified"] is False
    cookies = set_cookies(response)
    assert set(cookies) == {"access_token", "refresh_token", "XSRF-TOKEN", "device"}
    for name in ("access_token", "refresh_token", "device"):
        assert "HttpOnly" in cookies[name] and "Secure" in cookies[name]
        assert re.search("samesite=lax", cookies[name], re.I)
        assert "Domain" not in cookies[name]  # host-only
    assert "HttpOnly" not in cookies["XSRF-TOKEN"]
    assert "Path=/api/auth" in cookies["refresh_token"] and "Path=/;" in cookies["access_token"] + ";"
    assert "Path=/api/auth" in cookies["device"] and "Max-Age=31536000" in cookies["device"]
    csrf = client.cookies["XSRF-TOKEN"]
    assert response.json["csrfToken"] == response.headers["X-XSRF-TOKEN"] == csrf
    stored = db.users.find_one({"_id": user["id"]})
    assert stored["passwordHash"].startswith("$2") and NEW["password"] not in json.dumps(stored, default=str)
    assert client.get("/api/user/me").json["user"]["id"] == user["id"]


def test_duplicate_email_is_a_conflict(client, db):
    client.post_json("/api/auth/signup", NEW, status=201)
    response = browser(client.app).post_json("/api/auth/signup", {**NEW, "email": "AMIT@example.com"},
                                              status=409)
    assert response.json["error"]["code"] == "email_taken"
    assert db.users.count_documents({}) == 1


@pytest.mark.parametrize("change, field", [
    ({"email": {"$ne": None}}, "email"), ({"email": "not-an-email"}, "email"),
    ({"name": ""}, "name"), ({"name": "n" * 101}, "name"), ({"name": ["Amit"]}, "name"),
    ({"password": "short1"}, "password"), ({"password": "ह" * 25}, "password"),  # 75 bytes
    ({"password": None}, "password"), ({"email": "a@b.co" + "m" * 300}, "email"),
])
def test_signup_rejects_bad_fields(client, db, change, field):
    response = client.post_json("/api/auth/signup", {**NEW, **change}, status=400)
    assert field in response.json["error"]["fields"]
    assert db.users.count_documents({}) == 0


def test_signup_ignores_unknown_fields_such_as_a_role(client):
    response = client.post_json("/api/auth/signup", {**NEW, "role": "admin", "disabled": False}, status=201)
    assert response.json["user"]["role"] == "student"


def test_racing_duplicate_signups_create_one_account(live_server, db):
    server = live_server()
    results = []
    body = {"name": "Racer", "email": "racer@example.com", "password": "racing-to-sign-up"}

    def go():
        results.append(call("POST", server.url + "/api/auth/signup", body)[0])
    threads = [threading.Thread(target=go) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(results) == [201] + [409] * 7
    assert db.users.count_documents({"email": "racer@example.com"}) == 1


# --- sign-in ----------------------------------------------------------------------------

def test_login_sets_the_session(app, db):
    user = create_user(db)
    client = browser(app)
    response = client.post_json("/api/auth/login", {"email": user["email"].upper(), "password": PASSWORD})
    assert response.json["user"]["id"] == user["_id"]
    assert set(set_cookies(response)) == {"access_token", "refresh_token", "XSRF-TOKEN", "device"}
    assert response.json["csrfToken"] == response.headers["X-XSRF-TOKEN"] == client.cookies["XSRF-TOKEN"]
    claims = jwt.decode(client.cookies["access_token"], SECRET, algorithms=["HS256"])
    assert db.sessions.find_one({"userId": user["_id"]})["familyId"] == claims["sid"]


def test_wrong_password_and_unknown_email_get_the_same_answer(app, db):
    user = create_user(db)
    wrong = browser(app).post_json("/api/auth/login", {"email": user["email"], "password": "nope-nope"},
                                   status=401)
    unknown = browser(app).post_json("/api/auth/login", {"email": "ghost@example.com", "password": "nope-nope"},
                                     status=401)
    assert wrong.json == unknown.json
    assert wrong.json["error"]["code"] == "invalid_credentials"
    assert "Set-Cookie" not in wrong.headers


def test_unknown_email_costs_a_hash_like_a_wrong_password(make_settings):
    with app_with(make_settings, LMS_BCRYPT_ROUNDS="10") as (runtime, app):
        create_user(runtime.db, email="known@example.com", rounds=10)

        def timed(email):
            started = time.perf_counter()
            browser(app).post_json("/api/auth/login", {"email": email, "password": "wrong-password"}, status=401)
            return time.perf_counter() - started
        timed("warm-up@example.com")
        wrong = min(timed("known@example.com") for _ in range(3))
        unknown = min(timed("ghost@example.com") for _ in range(3))
        # Without the dummy hash an unknown e-mail answers ~50x faster than a wrong password.
        assert unknown > wrong * 0.5


def test_a_disabled_account_cannot_sign_in(app, db):
    user = create_user(db)
    db.users.update_one({"_id": user["_id"]}, {"$set": {"disabled": True}})
    response = browser(app).post_json("/api/auth/login", {"email": user["email"], "password": PASSWORD},
                                      status=403)
    assert response.json["error"]["code"] == "account_disabled"


@pytest.mark.parametrize("body", [{"email": {"$gt": ""}, "password": {"$gt": ""}},
                                  {"email": "a@example.com", "password": ["x"]},
                                  {"email": "a@example.com"}])
def test_login_rejects_operator_objects_and_missing_fields(client, body):
    assert client.post_json("/api/auth/login", body, status=400).json["error"]["code"] == "validation_error"


# --- access tokens ----------------------------------------------------------------------

def forged(claims, key=SECRET, algorithm="HS256"):
    return jwt.encode(claims, key, algorithm=algorithm)


def unsigned(claims):
    def part(obj):
        plain = {k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in obj.items()}
        return base64.urlsafe_b64encode(json.dumps(plain).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize("make_token", [
    lambda c: forged(c, key="another-secret-another-secret-xx"),
    lambda c: forged(c, key=SECRET * 2, algorithm="HS512"),
    lambda c: unsigned(c),
    lambda c: forged({**c, "exp": datetime.now(timezone.utc) - timedelta(seconds=5)}),
    lambda c: forged({k: v for k, v in c.items() if k != "exp"}),
    lambda c: forged({k: v for k, v in c.items() if k != "sid"}),  # a token that names no session
    lambda c: forged({**c, "sid": "0123456789abcdef01234567"}),  # a session that does not exist
    lambda c: "not.a.jwt",
])
def test_private_routes_reject_bad_access_tokens(app, db, make_token):
    user = create_user(db, "admin")
    now = datetime.now(timezone.utc)
    live = sessions.start(db, user["_id"]).family
    claims = {"sub": user["_id"], "role": "admin", "sid": live, "iat": now, "exp": now + timedelta(minutes=5)}
    client = browser(app)
    client.set_cookie("access_token", forged(claims))
    assert client.get("/api/user/me").status_int == 200  # the well-formed token works...
    client.set_cookie("access_token", make_token(claims))
    assert client.get("/api/user/me", status=401).json["error"]["code"] == "unauthenticated"


def test_a_jwt_in_the_refresh_cookie_is_refused(app, db):
    user = create_user(db)
    client = sign_in(app, user)
    access = client.cookies["access_token"]
    assert presenting(app, refresh_token=access).post("/api/auth/refresh", status=401).json["ok"] is False


# --- refresh rotation and theft detection -----------------------------------------------

def refresh(client, status=200):
    client.extra_environ["HTTP_X_XSRF_TOKEN"] = client.cookies.get("XSRF-TOKEN", "")
    return client.post("/api/auth/refresh", status=status)


def test_refresh_rotates_both_tokens(app, db):
    client = sign_in(app, create_user(db))
    first, access = client.cookies["refresh_token"], client.cookies["access_token"]
    issued = jwt.decode(access, SECRET, algorithms=["HS256"])["iat"]  # in whole seconds
    time.sleep(max(0.0, issued + 1 - time.time()))  # into the next one: a new iat, so a new access token
    refresh(client)
    assert client.cookies["refresh_token"] != first and client.cookies["access_token"] != access
    assert db.sessions.count_documents({}) == 2
    assert client.get("/api/user/me").status_int == 200


def test_a_reused_refresh_token_revokes_its_whole_family(app, db):
    client = sign_in(app, create_user(db))
    stolen = client.cookies["refresh_token"]
    refresh(client)
    # Later (past the two-tabs grace period) the copied token is presented again.
    db.sessions.update_many({"usedAt": {"$ne": None}}, {"$set": {"usedAt": datetime.now(timezone.utc) - timedelta(minutes=5)}})
    reused = presenting(app, refresh_token=stolen).post("/api/auth/refresh", status=401)
    assert reused.json["error"]["code"] == "session_revoked"
    assert refresh(client, status=401).json["error"]["code"] in ("session_revoked", "session_expired")
    assert db.sessions.count_documents({"revokedAt": None}) == 0
    assert db.auditLogs.count_documents({"action": "session.reuse_detected"}) == 1


def test_concurrent_refreshes_with_one_token_let_at_most_one_through(live_server, db):
    server = live_server()
    user = create_user(db)
    header = server.sign_in(user, token="refresh_token")
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        call("POST", server.url + "/api/auth/refresh", headers=header)[0])) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert results.count(200) <= 1 and results.count(200) + results.count(401) == 8
    assert db.sessions.count_documents({"userId": user["_id"]}) == 1 + results.count(200)


def test_expired_or_unknown_refresh_tokens_answer_401_and_clear_cookies(app, db):
    client = sign_in(app, create_user(db))
    db.sessions.update_many({}, {"$set": {"expiresAt": datetime.now(timezone.utc) - timedelta(seconds=1)}})
    response = refresh(client, status=401)
    cleared = set_cookies(response)
    assert set(cleared) == {"access_token", "refresh_token", "XSRF-TOKEN"}
    assert all("Max-Age=0" in c for c in cleared.values())
    assert "Path=/api/auth" in cleared["refresh_token"]


def test_a_disabled_user_cannot_refresh(app, db):
    user = create_user(db)
    client = sign_in(app, user)
    db.users.update_one({"_id": user["_id"]}, {"$set": {"disabled": True}})
    assert refresh(client, status=403).json["error"]["code"] == "account_disabled"
    assert db.sessions.count_documents({"userId": user["_id"], "revokedAt": None}) == 0


def test_logout_revokes_the_family_and_clears_every_cookie(app, db):
    client = sign_in(app, create_user(db))
    token = client.cookies["refresh_token"]
    response = client.post("/api/auth/logout")
    assert set(set_cookies(response)) == {"access_token", "refresh_token", "XSRF-TOKEN"}
    assert db.sessions.count_documents({"revokedAt": None}) == 0
    assert presenting(app, refresh_token=token).post("/api/auth/refresh", status=401)


# --- CSRF -------------------------------------------------------------------------------

def test_cookie_authenticated_unsafe_requests_need_the_csrf_header(app, db):
    client = sign_in(app, create_user(db))
    del client.extra_environ["HTTP_X_XSRF_TOKEN"]
    assert client.post("/api/auth/logout", status=403).json["error"]["code"] == "csrf_failed"
    client.extra_environ["HTTP_X_XSRF_TOKEN"] = "guessed"
    assert client.post("/api/auth/logout", status=403).json["error"]["code"] == "csrf_failed"
    assert db.sessions.count_documents({"revokedAt": None}) == 1  # nothing happened
    client.extra_environ["HTTP_X_XSRF_TOKEN"] = client.cookies["XSRF-TOKEN"]
    client.post("/api/auth/logout", status=200)


def test_signup_and_login_are_exempt_from_csrf(app, db):
    client = sign_in(app, create_user(db))
    del client.extra_environ["HTTP_X_XSRF_TOKEN"]
    user = create_user(db)
    client.post_json("/api/auth/login", {"email": user["email"], "password": PASSWORD}, status=200)


# --- roles, from the route table --------------------------------------------------------

def concrete(path):
    return re.sub(r"<[^>]+>", "0123456789abcdef01234567", path)


def request(client, route, **kwargs):
    method = getattr(client, route.method.lower() + ("_json" if route.method in ("POST", "PUT", "PATCH") else ""))
    args = (concrete(route.path), {}) if route.method in ("POST", "PUT", "PATCH") else (concrete(route.path),)
    return method(*args, expect_errors=True, **kwargs)


def test_every_private_route_refuses_anonymous_callers(client):
    for route in [r for r in ROUTES if r.who != "anyone"]:
        response = request(client, route)
        assert response.status_int == 401, route.path
        assert response.json["error"]["code"] == "unauthenticated"


def test_every_staff_route_refuses_students_and_every_admin_route_instructors(signed_in):
    student, instructor = signed_in("student"), signed_in("instructor")
    for route in ROUTES:
        if route.who in ("staff", "admin"):
            assert request(student, route).status_int == 403, route.path
        if route.who == "admin":
            assert request(instructor, route).status_int == 403, route.path


# --- admin changes to users -------------------------------------------------------------

def test_admin_changes_a_role_and_it_is_audited(signed_in, db):
    admin = signed_in("admin")
    target = create_user(db)
    response = admin.patch_json(f"/api/admin/users/{target['_id']}", {"role": "instructor"})
    assert response.json["user"]["role"] == "instructor"
    entry = db.auditLogs.find_one({"action": "user.update"})
    assert entry["actorId"] == admin.user["_id"] and entry["targetId"] == target["_id"]
    assert entry["details"]["changes"]["role"] == {"from": "student", "to": "instructor"}
    assert entry["ip"] == "203.0.113.7" and entry["requestId"] == response.headers["X-Request-Id"]


def test_disabling_a_user_ends_their_access_at_once(app, signed_in, db):
    admin = signed_in("admin")
    user = create_user(db)
    victim = sign_in(app, user)
    assert victim.get("/api/user/me").json["user"]["id"] == user["_id"]
    admin.patch_json(f"/api/admin/users/{user['_id']}", {"disabled": True})
    for answer in (victim.get("/api/user/me", status=403), victim.post_json("/api/enroll", {}, status=403)):
        assert answer.json["error"]["code"] == "account_disabled"
    assert db.sessions.count_documents({"userId": user["_id"], "revokedAt": None}) == 0


def test_admin_user_changes_refuse_bad_input(signed_in, db):
    admin = signed_in("admin")
    target = create_user(db)
    admin.patch_json(f"/api/admin/users/{target['_id']}", {"role": "superuser"}, status=400)
    admin.patch_json(f"/api/admin/users/{target['_id']}", {"disabled": "yes"}, status=400)
    admin.patch_json("/api/admin/users/0123456789abcdef01234567", {"role": "admin"}, status=404)
    own = admin.patch_json(f"/api/admin/users/{admin.user['_id']}", {"role": "student"}, status=409)
    assert own.json["error"]["code"] == "self_change"
    assert db.users.find_one({"_id": target["_id"]})["role"] == "student"


# --- password reset ---------------------------------------------------------------------

def test_forgot_password_answers_the_same_whether_or_not_the_account_exists(client, db, runtime):
    user = create_user(db)
    known = client.post_json("/api/auth/forgot-password", {"email": user["email"]})
    unknown = client.post_json("/api/auth/forgot-password", {"email": "ghost@example.com"})
    assert known.json == unknown.json and known.status_int == unknown.status_int == 200
    assert db.errands.count_documents({}) == 2 and db.mails.count_documents({}) == 0  # decided after the answer
    [mail] = mails_to(runtime, user["email"])
    assert mail["kind"] == "password_reset" and "https://lms.test/reset-password?token=" in mail["text"]
    assert db.mails.count_documents({}) == 1
    assert db.errands.count_documents({}) == 0, "the addresses asked about are forgotten"


def test_reset_sets_the_password_once_and_ends_every_session(app, client, db, runtime):
    user = create_user(db)
    session = sign_in(app, user)
    client.post_json("/api/auth/forgot-password", {"email": user["email"]})
    token = mailed_token(runtime, user["email"], "password_reset")
    assert db.emailTokens.find_one()["tokenHash"] != token  # stored hashed
    client.post_json("/api/auth/reset-password", {"token": token, "password": "brand-new-pass"})
    assert session.get("/api/user/me", status=401)  # the access token too, at once
    assert refresh(session, status=401)
    again = client.post_json("/api/auth/reset-password", {"token": token, "password": "another-pass"},
                             status=400)
    assert again.json["error"]["code"] == "invalid_token"
    browser(app).post_json("/api/auth/login", {"email": user["email"], "password": PASSWORD}, status=401)
    browser(app).post_json("/api/auth/login", {"email": user["email"], "password": "brand-new-pass"})
    assert db.auditLogs.count_documents({"action": "user.password_reset", "targetId": user["_id"]}) == 1


def test_an_expired_reset_token_is_refused(client, db, runtime):
    user = create_user(db)
    client.post_json("/api/auth/forgot-password", {"email": user["email"]})
    token = mailed_token(runtime, user["email"], "password_reset")
    db.emailTokens.update_many({}, {"$set": {"expiresAt": datetime.now(timezone.utc) - timedelta(seconds=1)}})
    before = db.users.find_one({"_id": user["_id"]})["passwordHash"]
    client.post_json("/api/auth/reset-password", {"token": token, "password": "brand-new-pass"}, status=400)
    assert db.users.find_one({"_id": user["_id"]})["passwordHash"] == before
    browser(client.app).post_json("/api/auth/login", {"email": user["email"], "password": PASSWORD})


# --- rate limits ------------------------------------------------------------------------

def test_login_is_limited_per_email_with_retry_after_and_one_audit_entry(app, db):
    user = create_user(db)
    for _ in range(10):
        browser(app).post_json("/api/auth/login", {"email": user["email"], "password": "wrong-pass"}, status=401)
    for _ in range(2):
        response = browser(app).post_json("/api/auth/login", {"email": user["email"], "password": PASSWORD},
                                          status=429)
    assert response.json["error"]["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 900
    assert db.auditLogs.count_documents({"action": "auth.rate_limited"}) == 1


def test_signup_is_limited_per_ip_and_the_proxy_header_counts_only_when_trusted(make_settings):
    def signups(forwarded_for, **env):
        with app_with(make_settings, **env) as (runtime, app):
            client = browser(app)
            statuses = [client.post_json("/api/auth/signup", {
                "name": "N", "email": f"u{i}-{forwarded_for[i % 2]}@example.com", "password": "uncommon-enough"},
                headers={"X-Forwarded-For": forwarded_for[i % 2]}, expect_errors=True).status_int
                for i in range(12)]
            runtime.db.rateLimits.delete_many({})
        return statuses
    untrusted = signups(["198.51.100.1", "198.51.100.2"])
    assert untrusted.count(201) == 10 and untrusted.count(429) == 2  # one client: REMOTE_ADDR
    trusted = signups(["198.51.100.3", "198.51.100.4"], LMS_TRUST_PROXY="1")
    assert trusted.count(201) == 12  # two clients, six each


def test_forgot_password_is_limited_per_email(client, db, runtime):
    user = create_user(db)
    for _ in range(3):
        client.post_json("/api/auth/forgot-password", {"email": user["email"]})
    client.post_json("/api/auth/forgot-password", {"email": user["email"]}, status=429)
    assert len(mails_to(runtime, user["email"], "password_reset")) == 3


def test_a_csrf_header_that_is_not_utf8_is_refused_not_a_crash(app, db):
    client = sign_in(app, create_user(db))
    client.extra_environ["HTTP_X_XSRF_TOKEN"] = "\xe9abc"
    assert client.post("/api/auth/logout", status=403).json["error"]["code"] == "csrf_failed"
