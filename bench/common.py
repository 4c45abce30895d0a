"""Shared pieces of the benchmarks: a real service on a scratch database, and timing."""
import contextlib
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support.database import DatabaseServer  # noqa: E402
from support.live import Service, call  # noqa: E402


class Stack:
    """A database server on :memory: and ``python lms.py serve`` on it, as in production."""

    def __init__(self, **env):
        self.env = env

    def __enter__(self):
        self.db = DatabaseServer().start()
        self.tmp = tempfile.TemporaryDirectory()
        env = {"MONGODB_URI": self.db.uri.replace("/?", "/lms_bench?"), "LMS_WORKER": "0",
               "LMS_SECRET_KEY": "bench-secret-key-0123456789abcdefghijk", **self.env}
        self.service = Service(self.tmp.name, **env).start()
        self.service.wait_healthy()
        self.url = self.service.url
        return self

    def __exit__(self, *exc):
        self.service.stop()
        self.db.stop()
        self.tmp.cleanup()


def latencies(port, path, seconds, headers=None):
    """Milliseconds of each GET of ``path`` on one keep-alive connection for ``seconds``."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    samples, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        response.read()
        assert response.status == 200, (path, response.status)
        samples.append((time.perf_counter() - started) * 1000)
    connection.close()
    return samples


def throughput(port, path, seconds, connections, headers=None):
    """Requests per second of ``path`` over ``connections`` keep-alive connections (threads here)."""
    counts = []

    def run():
        counts.append(len(latencies(port, path, seconds, headers)))
    threads = [threading.Thread(target=run) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / seconds


@contextlib.contextmanager
def bare_app(body, reads=None):
    """``bench/bare_app.py`` serving ``body`` (bytes), after the database ``reads`` (see there)
    if given; yields its port."""
    from bson import json_util
    from lms.db import free_port
    with tempfile.TemporaryDirectory() as tmp:
        files = [Path(tmp) / "body.json"]
        files[0].write_bytes(body)
        if reads is not None:
            files.append(Path(tmp) / "reads.json")
            files[1].write_text(json_util.dumps(reads))
        port = free_port()
        process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "bare_app.py"), str(port), *map(str, files)])
        try:
            for _ in range(200):
                try:
                    http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/")
                    break
                except OSError:
                    time.sleep(0.05)
            yield port
        finally:
            process.terminate()
            process.wait()


def timed(fn):
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def summary(samples):
    ordered = sorted(samples)
    return {"n": len(ordered), "p50": round(statistics.median(ordered), 2),
            "p95": round(ordered[int(len(ordered) * 0.95) - 1], 2), "max": round(ordered[-1], 2)}


__all__ = ["Stack", "DatabaseServer", "call", "timed", "summary", "latencies", "throughput", "bare_app", "os"]
