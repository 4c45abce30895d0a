"""Waiting for something that happens elsewhere (another process, thread or server) by polling
for it, never by sleeping a fixed time."""
import time


def wait_until(predicate, timeout=15.0, interval=0.1):
    """The first truthy value of ``predicate()``, polled every ``interval`` seconds; its last
    (falsy) value once ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def health_after(client, moment):
    """The ``/api/health`` answer (webtest ``client``) of the first background check that began
    after ``moment`` (a datetime): it sees what the test wrote to the database before then."""
    from lms.db import iso
    since = iso(moment)
    answer = wait_until(lambda: (r := client.get("/api/health", expect_errors=True)).json["db"].get(
        "checkedAt", "") > since and r, timeout=10, interval=0.05)
    assert answer, f"no health check began after {since}"
    return answer
