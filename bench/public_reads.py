"""HTTP speed of the public reads, against a bare Bottle app on the same server in the same run.

    .venv/bin/python bench/public_reads.py [--seconds 3] [--connections 4] [--rounds 2]

Prints: sequential keep-alive latency of /api/health (p50/p95); requests per second of
/api/courses and /api/certificates/:certId (an issued certificate: a pending one is never cached)
with N keep-alive connections, and each as a ratio to a bare Bottle app answering the same bytes
at the same path on the same gevent server. The load comes from threads in this process on the
same machine, so absolute numbers are a floor; the ratios are the point. About 30 s in all.
"""
import argparse
import http.client

from common import Stack, bare_app, latencies, summary, throughput
from support.factories import create_course, issued_certificate
from lms.config import Settings


def fetch(port, path):
    """(status, body bytes) of one GET."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("GET", path)
    response = connection.getresponse()
    answer = response.status, response.read()
    connection.close()
    return answer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2, help="alternations of ours and the bare app, per path")
    args = parser.parse_args()
    with Stack() as stack:
        import pymongo
        uri = stack.db.uri.replace("/?", "/lms_bench?")
        client = pymongo.MongoClient(uri, tz_aware=True)
        db = client.get_default_database()
        for n in range(12):
            create_course(db, title=f"Course number {n}", price=0 if n % 3 == 0 else 49900)
        # Rendered here as the service's worker would (same data dir and keys), so that no worker
        # runs beside the measurements.
        settings = Settings.from_env({"MONGODB_URI": uri, "LMS_DATA_DIR": stack.tmp.name, "LMS_WORKER": "0",
                                      "LMS_SECRET_KEY": stack.service.env["LMS_SECRET_KEY"]})
        cert = issued_certificate(db, settings)
        assert cert["status"] == "active", cert["status"]
        port = stack.service.port
        health = summary(latencies(port, "/api/health", args.seconds))
        print(f"GET /api/health, sequential keep-alive latency (ms): p50 {health['p50']} p95 {health['p95']} "
              f"(n {health['n']}, max {health['max']})")
        for path, name in (("/api/courses", "/api/courses"),
                           (f"/api/certificates/{cert['certId']}", "/api/certificates/:certId")):
            status, body = fetch(port, path)
            assert status == 200, (path, status)
            with bare_app(body) as bare_port:
                assert fetch(bare_port, path) == (200, body)
                # Alternated, so that other work on the machine weighs on both alike.
                ours = yardstick = 0
                for _ in range(args.rounds):
                    ours += throughput(port, path, args.seconds, args.connections) / args.rounds
                    yardstick += throughput(bare_port, path, args.seconds, args.connections) / args.rounds
            print(f"GET {name}: {ours:,.0f} req/s; bare Bottle with the same body {yardstick:,.0f} req/s; "
                  f"ratio {ours / yardstick:.2f} ({args.connections} connections, {args.rounds} rounds "
                  f"of {args.seconds:g} s each)")
        client.close()

if __name__ == "__main__":
    main()
