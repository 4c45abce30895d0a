"""Whether forgot-password answers a known address in the same time as an unknown one.

    .venv/bin/python bench/forgot_password.py [--requests 400] [--worker in-process|separate|none]

The request only queues an errand; the worker looks the address up and queues the mail after the
answer. With ``--worker in-process`` (``LMS_WORKER=1``) that work shares the process with the
requests that follow; with ``separate`` the web process runs ``LMS_WORKER=0`` beside a
``python lms.py worker`` process, as a scaled-out deployment does; ``none`` runs no worker at all,
which times the request alone. Known and unknown addresses
come in a shuffled order (fixed seed), each address asked about once and each request from its own
client address (``X-Forwarded-For`` behind ``LMS_TRUST_PROXY=1``), so no rate limit interferes;
the first requests warm the service up and are left out. It prints each group's latency, the
difference of the medians, and the latency of the request that comes right after a known or an
unknown one (the background work a known address causes), then checks that every known address
got its mail.
"""
import argparse
import http.client
import json
import random
import tempfile
import time

import pymongo

from common import Service, Stack, summary
from support import factories as data
from support.waits import wait_until

WARM_UP = 20


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--worker", choices=("in-process", "separate", "none"), default="in-process")
    args = parser.parse_args()
    separate = args.worker == "separate"
    in_process = "1" if args.worker == "in-process" else "0"
    with Stack(LMS_WORKER=in_process, LMS_TRUST_PROXY="1") as stack, tempfile.TemporaryDirectory() as tmp:
        worker = Service(tmp, "worker", **stack.service.env).start() if separate else None
        db = pymongo.MongoClient(stack.db.uri).lms_bench
        known = args.requests // 2 + WARM_UP
        db.users.insert_many([data.student(n, email=f"known-{n}@example.com") for n in range(known)])
        order = [f"known-{n}@example.com" for n in range(known)] + [f"ghost-{n}@example.com" for n in range(known)]
        random.Random(14).shuffle(order)
        host, port = stack.url.split("//")[1].split(":")
        connection = http.client.HTTPConnection(host, int(port))  # one keep-alive connection, like a proxy's
        timings, after = {"known": [], "unknown": []}, {"known": [], "unknown": []}
        previous = None
        for n, email in enumerate(order):
            group = "known" if email.startswith("known") else "unknown"
            started = time.perf_counter()
            connection.request("POST", "/api/auth/forgot-password", json.dumps({"email": email}), {
                "Content-Type": "application/json", "X-Forwarded-For": f"10.{n // 250}.{n % 250}.1"})
            answer = connection.getresponse()
            answer.read()
            elapsed = (time.perf_counter() - started) * 1000
            assert answer.status == 200, answer.status
            if n >= 2 * WARM_UP:
                timings[group].append(elapsed)
                after[previous].append(elapsed)
            previous = group
        connection.close()
        mailed = args.worker == "none" or wait_until(
            lambda: db.mails.count_documents({"kind": "password_reset"}) == known, timeout=120)
        if worker:
            worker.stop()
    known_ms, unknown_ms = summary(timings["known"]), summary(timings["unknown"])
    print(f"POST /api/auth/forgot-password latency, ms (one keep-alive connection, worker {args.worker})")
    print("  known addresses:  ", known_ms)
    print("  unknown addresses:", unknown_ms)
    print(f"  median difference (known - unknown): {known_ms['p50'] - unknown_ms['p50']:+.2f} ms")
    print("  the next request, after a known address:  ", summary(after["known"]))
    print("  the next request, after an unknown address:", summary(after["unknown"]))
    if args.worker != "none":
        print("  every known address got its reset mail:", bool(mailed))


if __name__ == "__main__":
    main()
