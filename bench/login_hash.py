"""How far /api/health latency moves while 8 logins hash passwords (bcrypt at 12 rounds).

    .venv/bin/python bench/login_hash.py

bcrypt runs in gevent's thread pool; were it on the hub, every request would wait ~300 ms per hash.
"""
import http.client
import threading
import time

from common import Stack, call, summary


def health_latencies(url, seconds):
    host, port = url.split("//")[1].split(":")
    connection = http.client.HTTPConnection(host, int(port))  # one keep-alive connection
    samples, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        connection.request("GET", "/api/health")
        connection.getresponse().read()
        samples.append((time.perf_counter() - started) * 1000)
    connection.close()
    return samples


def main():
    with Stack(LMS_BCRYPT_ROUNDS="12") as stack:
        body = {"name": "Bench", "email": "bench@example.com", "password": "bench-password"}
        assert call("POST", stack.url + "/api/auth/signup", body)[0] == 201
        idle = health_latencies(stack.url, 2)
        logins = []

        def login():
            started = time.perf_counter()
            call("POST", stack.url + "/api/auth/login", {"email": body["email"], "password": body["password"]})
            logins.append((time.perf_counter() - started) * 1000)
        threads = [threading.Thread(target=login) for _ in range(8)]
        for t in threads:
            t.start()
        busy = health_latencies(stack.url, 1.5)
        for t in threads:
            t.join()
    print("GET /api/health latency, ms (one keep-alive connection)")
    print("  idle:               ", summary(idle))
    print("  while 8 logins hash:", summary(busy))
    print("  the 8 logins, ms:   ", summary(logins))


if __name__ == "__main__":
    main()
