"""The data layer's plumbing: connecting, the embedded server, indexes, ids and times.

The rules every collection follows (DESIGN §1): string ``_id``s from ``new_id()``, money as
integer paise, timezone-aware UTC datetimes, no multi-document transactions (unique indexes and
single-document atomic updates instead), every document leaving through its module's
serializer, and all indexes declared here, in ``INDEXES``.
"""
import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pymongo
from bson import ObjectId
from pymongo import ASCENDING as ASC, DESCENDING as DESC, IndexModel
from pymongo.errors import PyMongoError

log = logging.getLogger("lms.db")


class DatabaseUnavailable(Exception):
    """The database could not be reached or started; the message says which and why."""


def new_id():
    return str(ObjectId())


def now():
    """The current UTC time at the millisecond precision MongoDB stores, so values round-trip."""
    t = datetime.now(timezone.utc)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def find_one_and_update(collection, query, update, *, after=False, sort=None):
    """``collection.find_one_and_update(query, update, sort=sort)``: the document as it was (with
    ``after``, as the update left it), or None when none matches; a find, then an update keyed
    by its ``_id``.

    The embedded server writes a findAndModify through ``{"_id": ..., "$and": [query]}``, which
    it plans as a scan of the whole collection (7 ms at 1,000 documents, 126 ms at 20,000); an
    update keyed by a top-level ``_id`` is one index lookup at any size. The update re-asserts
    ``query``, as the server's own findAndModify does, so it lands only while the document still
    matches; when another write came first, the next match is tried. ``query`` holds no ``$or``
    (which the embedded server scans for). With ``after``, ``update`` may only ``$set`` and
    ``$unset`` top-level fields, and the document after is the one found with them applied.
    """
    if after and (set(update) - {"$set", "$unset"} or any("." in key for op in update.values() for key in op)):
        raise ValueError("after= takes an update of top-level $set and $unset only")
    while True:
        before = collection.find_one(query, sort=sort)
        if before is None:
            return None
        if collection.update_one({**query, "_id": before["_id"]}, update).matched_count:
            break
    if not after:
        return before
    done = {**before, **update.get("$set", {})}
    for field in update.get("$unset", {}):
        done.pop(field, None)
    return done


def iso(value):
    """ISO-8601 UTC with a ``Z``: the one time format of the API."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _ttl(field, seconds=0):
    return IndexModel([(field, ASC)], expireAfterSeconds=seconds)


# Every index of every collection. TTL indexes only tidy up: code checks expiresAt itself.
# (dailyStats, the analytics' day counters, is read by its _id, a day string, alone: no index of its own.)
INDEXES = {
    # Each list's sorts have an index (tests/reports/test_pagination.py checks): the staff lists.
    "users": [IndexModel([("email", ASC)], unique=True),
              IndexModel([("role", ASC), ("createdAt", DESC), ("_id", DESC)]),
              IndexModel([("role", ASC), ("email", ASC), ("_id", ASC)]),
              IndexModel([("createdAt", DESC), ("_id", DESC)]), IndexModel([("email", ASC), ("_id", ASC)])],
    # (familyId, revokedAt): every authenticated request asks whether its family still stands
    "sessions": [IndexModel([("tokenHash", ASC)], unique=True),
                 IndexModel([("familyId", ASC), ("revokedAt", ASC)]), IndexModel([("userId", ASC)]),
                 _ttl("expiresAt")],
    "emailTokens": [IndexModel([("tokenHash", ASC)], unique=True),
                    IndexModel([("userId", ASC)]), _ttl("expiresAt")],
    "errands": [IndexModel([("status", ASC), ("nextAttemptAt", ASC)]),
                IndexModel([("status", ASC), ("leaseUntil", ASC)]), _ttl("createdAt", 86400)],
    "rateLimits": [_ttl("expiresAt")],
    "courses": [IndexModel([("slug", ASC)], unique=True),
                IndexModel([("status", ASC), ("createdAt", DESC), ("_id", DESC)]),
                IndexModel([("tags", ASC)]), IndexModel([("instructors", ASC)])],
    "enrollments": [IndexModel([("userId", ASC), ("courseId", ASC)], unique=True),
                    IndexModel([("userId", ASC), ("enrolledAt", DESC), ("_id", DESC)]),
                    IndexModel([("courseId", ASC), ("enrolledAt", DESC), ("_id", DESC)]),
                    IndexModel([("completedAt", ASC)]),
                    IndexModel([("courseId", ASC), ("status", ASC)]),
                    IndexModel([("enrolledAt", DESC), ("_id", DESC)]),
                    IndexModel([("progress", DESC), ("enrolledAt", DESC), ("_id", DESC)]),
                    IndexModel([("status", ASC), ("enrolledAt", DESC)]),
                    IndexModel([("courseId", ASC), ("userId", ASC)])],  # a course's recount, batch by batch
    "progress": [IndexModel([("userId", ASC), ("courseId", ASC), ("lessonId", ASC)], unique=True),
                 IndexModel([("courseId", ASC), ("userId", ASC)]), IndexModel([("courseId", ASC), ("lessonId", ASC)])],
    "progressRecounts": [IndexModel([("status", ASC), ("nextAttemptAt", ASC)]),
                         IndexModel([("status", ASC), ("leaseUntil", ASC)]),
                         IndexModel([("courseId", ASC), ("status", ASC)]),
                         _ttl("finishedAt", 7 * 86400)],
    "submissions": [IndexModel([("userId", ASC), ("courseId", ASC), ("createdAt", DESC)]),
                    IndexModel([("userId", ASC), ("createdAt", DESC), ("_id", DESC)]),
                    IndexModel([("status", ASC), ("createdAt", DESC)]),
                    IndexModel([("courseId", ASC), ("createdAt", DESC)]),
                    IndexModel([("createdAt", DESC), ("_id", DESC)])],
    "certificates": [IndexModel([("certId", ASC)], unique=True),
                     IndexModel([("hash", ASC)]), IndexModel([("revokedHash", ASC)]),
                     IndexModel([("courseId", ASC), ("status", ASC)]),
                     IndexModel([("reissueBatch", ASC), ("status", ASC)]),
                     IndexModel([("createdAt", DESC), ("_id", DESC)]),
                     IndexModel([("status", ASC), ("createdAt", DESC), ("_id", DESC)]),
                     IndexModel([("userId", ASC), ("courseId", ASC)], unique=True),
                     IndexModel([("status", ASC), ("nextAttemptAt", ASC)]),
                     IndexModel([("status", ASC), ("leaseUntil", ASC)])],
    "payments": [IndexModel([("providerPaymentId", ASC)], unique=True,
                            partialFilterExpression={"providerPaymentId": {"$type": "string"}}),
                 IndexModel([("orderId", ASC), ("createdAt", ASC)]),
                 IndexModel([("enrollmentId", ASC), ("capturedAt", ASC)]),
                 IndexModel([("userId", ASC), ("courseId", ASC)]),
                 IndexModel([("createdAt", DESC), ("_id", DESC)]),
                 IndexModel([("status", ASC), ("createdAt", DESC), ("_id", DESC)]),
                 IndexModel([("userId", ASC), ("createdAt", DESC), ("_id", DESC)]),
                 IndexModel([("courseId", ASC), ("createdAt", DESC), ("_id", DESC)]),
                 IndexModel([("method", ASC), ("createdAt", DESC), ("_id", DESC)]),
                 IndexModel([("provider", ASC), ("nextCheckAt", ASC)]),
                 IndexModel([("movements.at", ASC)])],
    "orders": [IndexModel([("orderId", ASC)], unique=True),
               IndexModel([("enrollmentId", ASC)], unique=True, partialFilterExpression={"current": True}),
               IndexModel([("status", ASC), ("nextCheckAt", ASC)])],
    "captures": [IndexModel([("status", ASC), ("nextAttemptAt", ASC)]),
                 IndexModel([("status", ASC), ("leaseUntil", ASC)])],
    "rejectedSignatures": [IndexModel([("day", ASC)]), _ttl("expiresAt")],
    "webhookEvents": [_ttl("receivedAt", 90 * 86400)],
    "auditLogs": [IndexModel([("timestamp", DESC), ("_id", DESC)]),
                  IndexModel([("action", ASC), ("timestamp", DESC)]),
                  IndexModel([("actorId", ASC), ("timestamp", DESC)]),
                  IndexModel([("targetType", ASC), ("targetId", ASC), ("timestamp", DESC)]),
                  IndexModel([("requestId", ASC)], partialFilterExpression={"requestId": {"$type": "string"}})],
    "notifications": [IndexModel([("userId", ASC), ("createdAt", DESC), ("_id", DESC)]),
                      IndexModel([("userId", ASC), ("readAt", ASC)]),
                      IndexModel([("createdAt", ASC), ("_id", ASC)])],
    "workers": [_ttl("heartbeatAt", 86400)],
    "certificateBatches": [IndexModel([("status", ASC), ("nextAttemptAt", ASC)]),
                           IndexModel([("status", ASC), ("leaseUntil", ASC)]),
                           IndexModel([("courseId", ASC), ("createdAt", DESC)])],
    "certificateSpool": [IndexModel([("createdAt", ASC)])],
    "certificateStamps": [IndexModel([("status", ASC), ("nextAttemptAt", ASC)]),
                          IndexModel([("status", ASC), ("leaseUntil", ASC)])],
    "mails": [IndexModel([("status", ASC), ("nextAttemptAt", ASC)]),
              IndexModel([("status", ASC), ("leaseUntil", ASC)])],
}


def ensure_indexes(db):
    """Create every index in ``INDEXES``; creating an existing index is a no-op."""
    for name, models in INDEXES.items():
        db[name].create_indexes(models)


def connect(uri, wait=30.0):
    """A client for ``uri`` once the server answers a ping; retries for ``wait`` seconds.

    Server selection gives up after two seconds, so a request that needs a database which is
    gone fails fast with 503 instead of hanging; pymongo reconnects by itself when the server
    returns. No client-wide ``timeoutMS``: under it pymongo retries a failing operation until
    the whole budget is spent, which would hold every request for that long during an outage;
    a socket timeout bounds a server that accepts but never answers.
    """
    client = pymongo.MongoClient(uri, tz_aware=True, appname="lms", serverSelectionTimeoutMS=2000,
                                 connectTimeoutMS=2000, socketTimeoutMS=20000)
    deadline = time.monotonic() + wait
    while True:
        try:
            client.admin.command("ping")
            return client
        except PyMongoError as exc:
            if time.monotonic() >= deadline:
                client.close()
                raise DatabaseUnavailable(
                    f"MongoDB at {_host_of(uri)} did not answer within {wait:g}s ({type(exc).__name__}); "
                    "check MONGODB_URI or raise LMS_DB_WAIT") from None
            time.sleep(0.5)


def _host_of(uri):
    # Never echo credentials: keep only what follows the '@'.
    rest = uri.split("://", 1)[-1]
    return rest.rsplit("@", 1)[-1].split("/", 1)[0].split("?", 1)[0]


def ping_ms(db, timeout=2.0):
    """Round-trip time of a ping in milliseconds; raises PyMongoError within ``timeout``."""
    started = time.perf_counter()
    with pymongo.timeout(timeout):
        db.command("ping")
    return round((time.perf_counter() - started) * 1000, 1)


class EmbeddedServer:
    """The development database: SecantusDB's ``secantusd-py`` as a child process.

    It listens on a free loopback port and keeps its WiredTiger files in ``DATA_DIR/db``.
    WiredTiger locks that directory, so a second process on the same data dir (``./run.sh
    worker`` beside ``./run.sh``) finds the running server through ``DATA_DIR/db.json`` and
    connects to it instead of starting another. The server is GPL-2.0 software; it stays a
    separate process and is never imported.

    The owner stops it with SIGTERM (WiredTiger's clean shutdown) on every exit path; should
    the owner die without running its clean-up, the kernel sends the server SIGTERM
    (``PR_SET_PDEATHSIG``), so no server is ever orphaned.
    """

    def __init__(self, data_dir):
        self.data_dir = Path(data_dir)
        self.storage = self.data_dir / "db"
        self.state_file = self.data_dir / "db.json"
        self.process = None
        self.uri = None

    @property
    def owned(self):
        return self.process is not None

    def start(self, timeout=30.0):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / "db.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one process decides at a time
            running = self._running_server()
            if running:
                self.uri = running
                log.info("embedded database: joining the server already running on this data dir")
                return self.uri
            return self._spawn(timeout)

    def _running_server(self):
        try:
            state = json.loads(self.state_file.read_text())
            os.kill(state["pid"], 0)
        except (FileNotFoundError, ValueError, KeyError, ProcessLookupError, PermissionError):
            return None
        uri = _uri(state["port"])
        return uri if _answers(uri, 2.0) else None

    def _spawn(self, timeout):
        executable = _secantusd()
        port = free_port()
        with open(self.data_dir / "db.log", "ab") as out:
            self.process = subprocess.Popen(
                [executable, "--host", "127.0.0.1", "--port", str(port),
                 "--storage-path", str(self.storage), "--log-level", "WARNING"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the app, which then stops the server cleanly
                preexec_fn=_die_with_parent)
        uri = _uri(port)
        deadline = time.monotonic() + timeout
        while not _answers(uri, 0.5):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise DatabaseUnavailable(
                    f"the embedded database did not start (see {self.data_dir / 'db.log'})")
            time.sleep(0.1)
        self.state_file.write_text(json.dumps({"pid": self.process.pid, "port": port}))
        self.uri = uri
        log.info("embedded database: started on 127.0.0.1:%s (pid %s)", port, self.process.pid)
        return uri

    def stop(self, timeout=15.0):
        if not self.process:
            return
        process, self.process = self.process, None
        with contextlib.suppress(FileNotFoundError):
            if json.loads(self.state_file.read_text() or "{}").get("pid") == process.pid:
                self.state_file.unlink()
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.error("embedded database did not stop within %ss; killing it", timeout)
                process.kill()
                process.wait()


def _uri(port):
    # No retryable writes: the server keeps a record of each one for 30 minutes and, on every
    # write, scans them all (and past 10,000, sorts them), so a busy server's writes slowed from
    # 0.6 ms to 3.1 ms (measured). A retry rides out a failover, and one local process has none.
    return f"mongodb://127.0.0.1:{port}/lms?directConnection=true&retryWrites=false"


def _answers(uri, timeout):
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=int(timeout * 1000),
                                 connectTimeoutMS=int(timeout * 1000))
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def _secantusd():
    beside_python = Path(sys.executable).parent / "secantusd-py"
    found = str(beside_python) if beside_python.exists() else shutil.which("secantusd-py")
    if not found:
        raise DatabaseUnavailable(
            "secantusd-py (the embedded database) is not installed: run ./run.sh, "
            "or set MONGODB_URI to use a MongoDB server")
    return found


def _die_with_parent():
    with contextlib.suppress(Exception):
        import ctypes
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
