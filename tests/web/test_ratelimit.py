"""The rate limiter on its own: a counter's window opens at its first hit and lasts the rule's
window, wherever the clock stands. Each hit is given its time (``at=``), so moving to the next
window takes no sleeping."""
from datetime import timedelta

import pytest

from lms.db import now
from lms.errors import RateLimited
from lms.web import ratelimit

RULE = "verify-pdf-ip"
LIMIT, WINDOW = ratelimit.RULES[RULE].limit, ratelimit.RULES[RULE].window
KEY = "198.51.100.1"


def seconds(n):
    return timedelta(seconds=n)


def test_a_window_allows_the_limit_and_the_next_hit_waits_for_what_is_left_of_it(db):
    first = now()
    for n in range(LIMIT):
        assert ratelimit.hit(db, RULE, KEY, at=first + seconds(n))["count"] == n + 1
    with pytest.raises(RateLimited) as refused:
        ratelimit.hit(db, RULE, KEY, at=first + seconds(100))
    assert refused.value.retry_after == WINDOW - 100
    assert refused.value.headers == {"Retry-After": str(WINDOW - 100)}
    assert ratelimit.hit(db, RULE, "198.51.100.2", at=first + seconds(100))["count"] == 1  # its own key


def test_the_first_hit_at_the_end_of_a_window_opens_a_new_one(db):
    first = now()
    for n in range(LIMIT):
        ratelimit.hit(db, RULE, KEY, at=first + seconds(n))
    with pytest.raises(RateLimited):
        ratelimit.hit(db, RULE, KEY, at=first + seconds(WINDOW - 1))
    counter = ratelimit.hit(db, RULE, KEY, at=first + seconds(WINDOW))
    assert (counter["count"], counter["resetAt"]) == (1, first + seconds(2 * WINDOW))


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
