"""Limits a stranger cannot turn against the owner: sign-in counts failures, a browser that signed
in before is counted apart from every other, and flooding forgot-password never keeps the owner
from finishing a reset already mailed. Every limit answers 429 with Retry-After and the
RateLimit-* headers."""
import threading

import bcrypt

from support.accounts import mailed_token
from support.app import browser
from support.factories import PASSWORD, create_user
from support.live import call, cookies_from

LOGIN = "/api/auth/login"


def wrong(user):
    return {"email": user["email"], "password": "not the password"}


def right(user):
    return {"email": user["email"], "password": PASSWORD}


def test_a_lockout_attempt_from_other_addresses_does_not_stop_the_owners_known_browser(live_server, db):
    server = live_server(LMS_TRUST_PROXY="1")
    owner = create_user(db)
    status, _, headers = call("POST", server.url + LOGIN, right(owner), {"X-Forwarded-For": "192.0.2.10"})
    assert status == 200
    known = {"Cookie": f"device={cookies_from(headers)['device']}", "X-Forwarded-For": "192.0.2.10"}
    attacker = create_user(db)  # with a device cookie of its own, which vouches for its own address only
    _, _, headers = call("POST", server.url + LOGIN, right(attacker), {"X-Forwarded-For": "198.51.100.66"})
    planted = f"device={cookies_from(headers)['device']}"

    def attack(address, times, answers, cookie=None):
        for _ in range(times):
            extra = {"Cookie": cookie} if cookie else {}
            answers.append(call("POST", server.url + LOGIN, wrong(owner), {"X-Forwarded-For": address, **extra})[0])

    first = []
    waves = [threading.Thread(target=attack, args=(f"198.51.100.{n}", 4, first, planted if n % 2 else None))
             for n in range(1, 5)]
    [t.start() for t in waves]
    [t.join() for t in waves]
    assert first.count(401) >= 10 and first.count(429) >= 1 and set(first) == {401, 429}

    # The attack goes on while the owner signs in from their usual browser.
    second, owner_answers = [], []
    waves = [threading.Thread(target=attack, args=(f"203.0.113.{n}", 3, second)) for n in range(1, 5)]
    waves.append(threading.Thread(target=lambda: owner_answers.append(
        call("POST", server.url + LOGIN, right(owner), known)[0])))
    [t.start() for t in waves]
    [t.join() for t in waves]
    assert owner_answers == [200]
    assert set(second) == {429}, "a stranger's guesses stay refused"
    status, body, headers = call("POST", server.url + LOGIN, right(owner), {"X-Forwarded-For": "192.0.2.99"})
    assert status == 429 and body["error"]["code"] == "rate_limited", "an unknown browser shares the attacked allowance"
    assert 1 <= int(headers["Retry-After"]) <= 900 and headers["RateLimit-Remaining"] == "0"
    assert headers["RateLimit-Limit"] == "10" and int(headers["RateLimit-Reset"]) == int(headers["Retry-After"])


def test_a_known_browser_has_an_allowance_of_its_own(app, db):
    user = create_user(db)
    owner = browser(app)
    owner.post_json(LOGIN, right(user))
    for n in range(10):
        failed = owner.post_json(LOGIN, wrong(user), status=401)
        assert failed.headers["RateLimit-Remaining"] == str(9 - n)
    assert owner.post_json(LOGIN, right(user), status=429).json["error"]["code"] == "rate_limited"
    elsewhere = browser(app)
    assert elsewhere.post_json(LOGIN, right(user)).json["user"]["id"] == user["_id"]  # the e-mail's is untouched
    assert db.rateLimits.count_documents({"_id": {"$regex": "^login-device:"}}) == 1


def test_a_device_cookie_vouches_only_for_the_address_it_was_given_for(app, db):
    mine, theirs = create_user(db), create_user(db)
    client = browser(app)
    client.post_json(LOGIN, right(mine))
    for _ in range(10):
        client.post_json(LOGIN, wrong(theirs), status=401)
    assert db.rateLimits.find_one({"_id": f"login-email:{theirs['email']}"})["count"] == 10
    client.post_json(LOGIN, right(theirs), status=429)
    forged = browser(app)
    forged.set_cookie("device", "nonce.0123456789abcdef0123456789abcdef~x.y")
    forged.post_json(LOGIN, right(theirs), status=429)
    assert client.post_json(LOGIN, right(mine)).status_int == 200


def test_successful_sign_ins_count_nothing(app, db):
    user = create_user(db)
    for _ in range(15):
        browser(app).post_json(LOGIN, right(user))
    assert db.rateLimits.count_documents({}) == 0


def test_a_password_too_long_to_be_anyones_is_a_wrong_password_checked_against_a_real_hash(app, db, monkeypatch):
    user = create_user(db)
    checks = []
    real = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda secret, hashed: checks.append(len(secret)) or real(secret, hashed))
    too_long = browser(app).post_json(LOGIN, {"email": user["email"], "password": PASSWORD + "x" * 80}, status=401)
    mistyped = browser(app).post_json(LOGIN, wrong(user), status=401)
    assert too_long.json == mistyped.json
    assert too_long.json["error"]["code"] == "invalid_credentials"
    assert checks == [72, len(wrong(user)["password"])], "a bcrypt check each time, as for any wrong password"
    assert too_long.headers["RateLimit-Remaining"] == "9" and mistyped.headers["RateLimit-Remaining"] == "8"
    just_right = "ह" * 24  # 72 bytes
    browser(app).post_json("/api/auth/signup", {"name": "Long", "email": "long@example.com", "password": just_right},
                           status=201)
    browser(app).post_json(LOGIN, {"email": "long@example.com", "password": just_right + "x"}, status=401)
    browser(app).post_json(LOGIN, {"email": "long@example.com", "password": just_right})
    for path, body in (("/api/auth/signup", {"name": "L", "email": "l@example.com"}), ("/api/auth/reset-password",
                                                                                     {"token": "t" * 43})):
        refused = browser(app).post_json(path, {**body, "password": just_right + "x"}, status=400)
        assert refused.json["error"]["fields"]["password"] == "must be at most 72 bytes"


def test_flooding_forgot_password_never_blocks_finishing_a_reset_already_mailed(app, db, runtime):
    user = create_user(db)
    stranger = browser(app)
    stranger.extra_environ["REMOTE_ADDR"] = "198.51.100.77"
    for _ in range(3):
        stranger.post_json("/api/auth/forgot-password", {"email": user["email"]})
    refused = browser(app).post_json("/api/auth/forgot-password", {"email": user["email"]}, status=429)
    assert refused.headers["Retry-After"] and refused.headers["RateLimit-Remaining"] == "0"
    token = mailed_token(runtime, user["email"], "password_reset")
    newest = db.emailTokens.find_one({"purpose": "reset"}, sort=[("createdAt", -1), ("_id", -1)])
    counter = db.rateLimits.find_one({"_id": f"forgot-email:{user['email']}"})
    assert newest["expiresAt"] >= counter["resetAt"], "the newest link outlives the refusal"
    browser(app).post_json("/api/auth/reset-password", {"token": token, "password": "my own new password"})
    browser(app).post_json(LOGIN, {"email": user["email"], "password": "my own new password"})
