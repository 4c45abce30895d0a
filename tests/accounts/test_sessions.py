"""Sessions end when they should: every access token names its session, and ending the session
(logout, a password change, an admin, the user on another device) refuses the token at once,
not when it expires. Also: the user's list of sessions, the bootstrap answer a page reads after
a reload, and where the CSRF token travels."""
import re

import jwt

from lms.db import new_id
from support.accounts import presenting
from support.app import SECRET, app_with, browser
from support.factories import PASSWORD, create_course, create_user, sign_in
from support.live import call, cookies_from

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")


def test_an_access_token_names_its_session(app, db):
    client = sign_in(app, create_user(db))
    claims = jwt.decode(client.cookies["access_token"], SECRET, algorithms=["HS256"])
    assert db.sessions.count_documents({"familyId": claims["sid"], "userId": claims["sub"]}) == 1


def test_after_logout_the_old_access_token_reads_and_enrolls_nothing(app, db):
    course = create_course(db, price=0)
    user = create_user(db)
    client = sign_in(app, user)
    kept = presenting(app, access_token=client.cookies["access_token"])
    assert kept.get("/api/user/me").json["user"]["id"] == user["_id"]
    client.post("/api/auth/logout")
    assert kept.get("/api/user/me", status=401).json["error"]["code"] == "unauthenticated"
    kept.post_json("/api/enroll", {"courseId": course["_id"], "paymentMode": "simulated"}, status=401)
    assert db.enrollments.count_documents({}) == 0


def test_after_logout_over_real_sockets_the_token_is_refused_at_once(live_server, db):
    server = live_server()
    auth = server.sign_in(create_user(db))
    assert call("GET", server.url + "/api/user/me", headers=auth)[0] == 200
    assert call("POST", server.url + "/api/auth/logout", headers=auth)[0] == 200
    status, body, _ = call("GET", server.url + "/api/user/me", headers=auth)
    assert status == 401 and body["error"]["code"] == "unauthenticated"


def test_changing_the_password_ends_every_other_session_at_once(app, db, runtime):
    user = create_user(db)
    here, elsewhere = sign_in(app, user), sign_in(app, user)
    answer = here.post_json("/api/user/password", {"currentPassword": PASSWORD, "newPassword": "a brand new one"})
    assert answer.json["sessionsEnded"] == 1
    assert here.get("/api/user/me").json["user"]["id"] == user["_id"]  # this one stays
    assert elsewhere.get("/api/user/me", status=401)
    elsewhere.extra_environ["HTTP_X_XSRF_TOKEN"] = elsewhere.cookies["XSRF-TOKEN"]
    elsewhere.post("/api/auth/refresh", status=401)
    assert db.mails.find_one({"to": user["email"], "kind": "password_changed"})
    browser(app).post_json("/api/auth/login", {"email": user["email"], "password": "a brand new one"})
    entry = db.auditLogs.find_one({"action": "user.password_change"})
    assert entry["targetId"] == user["_id"] and entry["details"]["sessionsEnded"] == 1


def test_a_wrong_current_password_changes_nothing(app, db):
    user = create_user(db)
    client = sign_in(app, user)
    before = db.users.find_one({"_id": user["_id"]})["passwordHash"]
    answer = client.post_json("/api/user/password", {"currentPassword": "not it", "newPassword": "a brand new one"},
                              status=400)
    assert answer.json["error"]["code"] == "wrong_password" and "currentPassword" in answer.json["error"]["fields"]
    weak = client.post_json("/api/user/password", {"currentPassword": PASSWORD, "newPassword": "iloveyou1"},
                            status=400)
    assert "most used" in weak.json["error"]["fields"]["newPassword"]
    assert db.users.find_one({"_id": user["_id"]})["passwordHash"] == before
    assert db.sessions.count_documents({"userId": user["_id"], "revokedAt": None}) == 1


def test_guessing_the_current_password_with_a_stolen_session_is_limited(app, db):
    client = sign_in(app, create_user(db))
    for _ in range(10):
        client.post_json("/api/user/password", {"currentPassword": "guess", "newPassword": "a brand new one"},
                         status=400)
    limited = client.post_json("/api/user/password", {"currentPassword": PASSWORD, "newPassword": "a brand new one"},
                               status=429)
    assert limited.headers["Retry-After"] and limited.headers["RateLimit-Remaining"] == "0"
    assert client.delete_json("/api/user/me", {"password": PASSWORD}, status=429)  # the same allowance


def test_an_admin_ends_every_session_of_a_user_at_once(app, db, signed_in):
    admin = signed_in("admin")
    user = create_user(db)
    phone, laptop = sign_in(app, user), sign_in(app, user)
    answer = admin.post_json(f"/api/admin/users/{user['_id']}/sessions/revoke", {})
    assert answer.json["revoked"] == 2
    for client in (phone, laptop):
        assert client.get("/api/user/me", status=401)
    entry = db.auditLogs.find_one({"action": "user.sessions_revoke"})
    assert entry["actorId"] == admin.user["_id"] and entry["details"]["sessionsEnded"] == 2
    admin.post_json(f"/api/admin/users/{new_id()}/sessions/revoke", {}, status=404)
    assert sign_in(app, user).get("/api/user/me").status_int == 200  # they can sign in again


def test_the_user_sees_their_sessions_and_ends_one_elsewhere(app, db):
    user = create_user(db)
    laptop = browser(app)
    laptop.extra_environ.update(HTTP_USER_AGENT=FIREFOX)
    laptop = _signed_in_as(laptop, user)
    phone = browser(app)
    phone.extra_environ.update(HTTP_USER_AGENT=IPHONE, REMOTE_ADDR="198.51.100.23")
    phone = _signed_in_as(phone, user)
    listed = laptop.get("/api/user/sessions").json["items"]
    assert [(s["device"], s["ip"], s["current"]) for s in listed] == [
        ("Mobile Safari 17 on iOS (iPhone)", "198.51.100.23", False), ("Firefox 130 on Linux", "203.0.113.7", True)]
    assert all(s["createdAt"] <= s["lastUsedAt"] for s in listed)
    laptop.delete(f"/api/user/sessions/{listed[0]['id']}")
    assert phone.get("/api/user/me", status=401)
    assert [s["device"] for s in laptop.get("/api/user/sessions").json["items"]] == ["Firefox 130 on Linux"]
    assert db.auditLogs.find_one({"action": "session.revoke"})["details"]["familyId"] == listed[0]["id"]


def test_a_refresh_keeps_the_session_and_says_when_it_was_last_used(app, db):
    user = create_user(db)
    client = sign_in(app, user)
    [before] = client.get("/api/user/sessions").json["items"]
    client.post("/api/auth/refresh")
    [after] = client.get("/api/user/sessions").json["items"]
    assert (after["id"], after["createdAt"], after["current"]) == (before["id"], before["createdAt"], True)
    assert after["lastUsedAt"] >= before["lastUsedAt"]


def test_ending_ones_current_session_signs_out_and_others_sessions_are_not_ones_own(app, db):
    user, other = create_user(db), create_user(db)
    client, theirs = sign_in(app, user), sign_in(app, other)
    their_id = theirs.get("/api/user/sessions").json["items"][0]["id"]
    client.delete(f"/api/user/sessions/{their_id}", status=404)
    client.delete(f"/api/user/sessions/{new_id()}", status=404)
    assert theirs.get("/api/user/me").status_int == 200
    own = client.get("/api/user/sessions").json["items"][0]["id"]
    answer = client.delete(f"/api/user/sessions/{own}")
    assert all("Max-Age=0" in c for c in answer.headers.getall("Set-Cookie"))
    client.get("/api/user/me", status=401)


def _signed_in_as(client, user):
    client.post_json("/api/auth/login", {"email": user["email"], "password": user["password"]})
    client.extra_environ["HTTP_X_XSRF_TOKEN"] = client.cookies["XSRF-TOKEN"]
    return client


# --- the CSRF token, where a page can get it -------------------------------------------------

def test_a_page_bootstraps_from_the_session_answer(app, db):
    anonymous = browser(app)
    first = anonymous.get("/api/auth/session")
    assert first.json["user"] is None
    token = first.json["csrfToken"]
    assert token == first.headers["X-XSRF-TOKEN"] == anonymous.cookies["XSRF-TOKEN"]
    again = anonymous.get("/api/auth/session")
    assert again.json["csrfToken"] == token and "Set-Cookie" not in again.headers  # kept, not rotated

    user = create_user(db)
    client = sign_in(app, user)
    signed = client.get("/api/auth/session").json
    assert signed["user"]["id"] == user["_id"] and signed["csrfToken"] == client.cookies["XSRF-TOKEN"]
    refreshed = client.post("/api/auth/refresh")
    assert refreshed.json["csrfToken"] == refreshed.headers["X-XSRF-TOKEN"] == client.cookies["XSRF-TOKEN"]


def test_after_a_reload_the_page_refreshes_with_the_token_the_session_answer_gave(app, db):
    client = sign_in(app, create_user(db))
    client.set_cookie("access_token", "")  # the access token ran out while the page was closed
    del client.extra_environ["HTTP_X_XSRF_TOKEN"]
    assert client.get("/api/auth/session").json["user"] is None
    token = client.get("/api/auth/session").json["csrfToken"]
    client.post("/api/auth/refresh", headers={"X-XSRF-TOKEN": token})
    assert client.get("/api/auth/session").json["user"] is not None


def test_with_a_cookie_domain_only_the_csrf_cookie_is_shared_with_sibling_hosts(make_settings):
    with app_with(make_settings, LMS_PUBLIC_URL="https://api.example.com", LMS_COOKIE_DOMAIN="example.com") as (
            runtime, app):
        user = create_user(runtime.db)
        client = browser(app)
        client.extra_environ["HTTP_HOST"] = "api.example.com"
        answer = client.post_json("/api/auth/login", {"email": user["email"], "password": PASSWORD})
        cookies = {c.split("=", 1)[0]: c for c in answer.headers.getall("Set-Cookie")}
        assert re.search(r"Domain=\.?example\.com", cookies["XSRF-TOKEN"], re.I)
        assert all("Domain" not in cookies[name] for name in ("access_token", "refresh_token", "device"))
        client.extra_environ["HTTP_X_XSRF_TOKEN"] = answer.json["csrfToken"]
        cleared = {c.split("=", 1)[0]: c for c in client.post("/api/auth/logout").headers.getall("Set-Cookie")}
        assert re.search(r"Domain=\.?example\.com", cleared["XSRF-TOKEN"], re.I)
        assert "Max-Age=0" in cleared["XSRF-TOKEN"]


def test_sign_in_over_real_sockets_hands_the_csrf_token_three_ways(live_server, db):
    server = live_server()
    user = create_user(db)
    status, body, headers = call("POST", server.url + "/api/auth/login", {"email": user["email"], "password": PASSWORD})
    assert status == 200
    assert body["csrfToken"] == headers["X-XSRF-TOKEN"] == cookies_from(headers)["XSRF-TOKEN"]
