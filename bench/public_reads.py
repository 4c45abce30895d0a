"""HTTP speed of the public reads, against a bare Bottle app on the same server in the same run.

    .venv/bin/python bench/public_reads.py [--seconds 3] [--connections 4]

Prints: sequential keep-alive latency of /api/health (p50/p95); requests per second of
/api/courses and /api/certificates/:certId with N keep-alive connections, and each as a ratio to a
bare Bottle app answering the same body on the same gevent server. The load comes from threads
in this process on the same machine, so absolute numbers are a floor; the ratios are the point.
"""
import argparse
import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time

from common import ROOT, Stack, call, summary
from support.factories import create_course, create_user
from lms.certificates import records as certificates
from lms.audit import SYSTEM
from lms.db import free_port


def latencies(port, path, seconds):
    connection = http.client.HTTPConnection("127.0.0.1", port)
    samples, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        connection.request("GET", path)
        connection.getresponse().read()
        samples.append((time.perf_counter() - started) * 1000)
    connection.close()
    return samples


def throughput(port, path, seconds, connections):
    counts = []

    def run():
        counts.append(len(latencies(port, path, seconds)))
    threads = [threading.Thread(target=run) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / seconds


def bare(body):
    """Start the bare app serving ``body``; returns (process, port)."""
    file = tempfile.NamedTemporaryFile(delete=False)
    file.write(body)
    file.close()
    port = free_port()
    process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "bare_app.py"), str(port), file.name])
    for _ in range(100):
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/")
            break
        except OSError:
            time.sleep(0.05)
    return process, port


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    with Stack() as stack:
        import pymongo
        client = pymongo.MongoClient(stack.db.uri.replace("/?", "/lms_bench?"), tz_aware=True)
        db = client.get_default_database()
        for n in range(12):
            create_course(db, title=f"Course number {n}", price=0 if n % 3 == 0 else 49900)
        cert, _ = certificates.create_once(db, create_user(db), create_course(db, price=0), prefix="CERT",
                                           actor=SYSTEM)
        port = stack.service.port
        health = latencies(port, "/api/health", args.seconds)
        print(f"GET /api/health, sequential keep-alive latency (ms): {summary(health)}")
        for path in ("/api/courses", f"/api/certificates/{cert['certId']}"):
            status, body, _ = call("GET", stack.url + path)
            assert status == 200, (path, status)
            ours = throughput(port, path, args.seconds, args.connections)
            process, bare_port = bare(json.dumps(body).encode())
            try:
                yardstick = throughput(bare_port, "/", args.seconds, args.connections)
            finally:
                process.terminate()
                process.wait()
            print(f"GET {path.split('/CERT')[0] + ('/:certId' if 'CERT' in path else '')}: "
                  f"{ours:,.0f} req/s; bare Bottle with the same body {yardstick:,.0f} req/s; "
                  f"ratio {ours / yardstick:.2f} ({args.connections} connections)")
        client.close()


if __name__ == "__main__":
    main()
