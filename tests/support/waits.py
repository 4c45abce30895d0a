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
