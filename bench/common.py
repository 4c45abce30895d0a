"""Shared pieces of the benchmarks: a real service on a scratch database, and timing."""
import os
import statistics
import sys
import tempfile
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


def timed(fn):
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def summary(samples):
    ordered = sorted(samples)
    return {"n": len(ordered), "p50": round(statistics.median(ordered), 2),
            "p95": round(ordered[int(len(ordered) * 0.95) - 1], 2), "max": round(ordered[-1], 2)}


__all__ = ["Stack", "call", "timed", "summary", "os"]
