"""The rate limiter on its own: a counter's window opens at its first hit and lasts the rule's
window, wherever the clock stands. Each hit is given its time (``at=``), so moving to the next
window takes no sleeping."""
from datetime import timedelta

import pytest

from lms.db import now
from lms.errors import RateLimited
from lms.web import ratelimit
from support.factories import create_user

RULE = "verify-pdf-ip"
LIMIT, WINDOW = ratelimit.RULES[RULE].limit, ratelimit.RULES[RULE].window
KEY = "198.51.100.1"


def seconds(n):
    return timedelta(seconds=n)


def test_a_window_allows_the_limit_and_the_next_hit_waits_for_what_is_left_of_it(db):
    first = now()
    for n in range(LIMIT):
        count = ratelimit.hit(db, RULE, KEY, at=first + seconds(n))
        assert (count.limit, count.remaining, count.reset) == (LIMIT, LIMIT - n - 1, WINDOW - n)
    with pytest.raises(RateLimited) as refused:
        ratelimit.hit(db, RULE, KEY, at=first + seconds(100))
    assert refused.value.retry_after == WINDOW - 100
    assert refused.value.headers == {"Retry-After": str(WINDOW - 100), "RateLimit-Limit": str(LIMIT),
                                     "RateLimit-Remaining": "0", "RateLimit-Reset": str(WINDOW - 100)}
    assert ratelimit.hit(db, RULE, "198.51.100.2", at=first + seconds(100)).remaining == LIMIT - 1  # its own key


def test_the_first_hit_at_the_end_of_a_window_opens_a_new_one(db):
    first = now()
    for n in range(LIMIT):
        ratelimit.hit(db, RULE, KEY, at=first + seconds(n))
    with pytest.raises(RateLimited):
        ratelimit.hit(db, RULE, KEY, at=first + seconds(WINDOW - 1))
    count = ratelimit.hit(db, RULE, KEY, at=first + seconds(WINDOW))
    assert (count.remaining, count.reset) == (LIMIT - 1, WINDOW)
    assert db.rateLimits.find_one({"_id": f"{RULE}:{KEY}"})["resetAt"] == first + seconds(2 * WINDOW)


def test_a_burst_that_starts_just_before_a_round_time_still_falls_in_one_window(db):
    # Windows counted on the clock (from whole multiples of WINDOW) would split this burst in
    # two halves that each stay under the limit.
    clock = now()
    started = clock + seconds(WINDOW - clock.timestamp() % WINDOW - 0.5)
    for n in range(LIMIT):
        ratelimit.hit(db, RULE, KEY, at=started + seconds(n / LIMIT))
    with pytest.raises(RateLimited):
        ratelimit.hit(db, RULE, KEY, at=started + seconds(1))


def test_the_trip_callback_runs_on_the_first_refusal_of_each_window(db):
    trips = []

    def burst(start, n):
        for i in range(n):
            try:
                ratelimit.hit(db, RULE, KEY, at=start + seconds(i), on_trip=lambda: trips.append(start))
            except RateLimited:
                pass

    first = now()
    burst(first, LIMIT + 3)
    assert trips == [first]
    burst(first + seconds(WINDOW), LIMIT + 2)
    assert trips == [first, first + seconds(WINDOW)]


def test_checking_a_key_counts_nothing_and_refuses_once_the_window_is_used_up(db):
    first = now()
    assert ratelimit.check(db, RULE, KEY, at=first).remaining == LIMIT  # nothing counted yet
    for n in range(LIMIT - 1):
        ratelimit.hit(db, RULE, KEY, at=first + seconds(n))
    assert ratelimit.check(db, RULE, KEY, at=first + seconds(50)).remaining == 1
    assert ratelimit.check(db, RULE, KEY, at=first + seconds(50)).remaining == 1, "a check is not a hit"
    ratelimit.hit(db, RULE, KEY, at=first + seconds(51))
    with pytest.raises(RateLimited) as refused:
        ratelimit.check(db, RULE, KEY, at=first + seconds(60))
    assert refused.value.retry_after == WINDOW - 60
    assert ratelimit.check(db, RULE, KEY, at=first + seconds(WINDOW)).remaining == LIMIT  # the next window


def test_every_answer_of_a_limited_route_tells_the_tightest_limit_and_what_is_left(client, db):
    user = create_user(db)
    wrong = {"email": user["email"], "password": "not the password"}
    first = client.post_json("/api/auth/login", wrong, status=401)
    # login counts failures per address (30 per 15 minutes) and, from a browser that has not signed
    # in to this account before, per e-mail (10): the e-mail's is tighter
    assert (first.headers["RateLimit-Limit"], first.headers["RateLimit-Remaining"]) == ("10", "9")
    assert 0 < int(first.headers["RateLimit-Reset"]) <= 900
    second = client.post_json("/api/auth/login", {**wrong, "password": user["password"]})
    assert (second.headers["RateLimit-Limit"], second.headers["RateLimit-Remaining"]) == ("10", "9")  # a success counts nothing
    third = client.post_json("/api/auth/login", wrong, status=401)
    # now a known browser (its device cookie): counted apart from the e-mail's failures
    assert (third.headers["RateLimit-Limit"], third.headers["RateLimit-Remaining"]) == ("10", "9")
    assert db.rateLimits.find_one({"_id": f"login-email:{user['email']}"})["count"] == 1
    assert "RateLimit-Limit" not in client.get("/api/courses").headers  # an unlimited route says nothing
