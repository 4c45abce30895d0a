"""The numbers an operator watches besides "is the database up": the work queues.

``queues`` answers how much work waits and how long the oldest of it has waited: a growing
certificate queue or an old pending certificate means no worker is running (or all of them
fail), which the heartbeat alone does not show when a worker is alive but stuck.

Decisions:
- Certificates waiting for their PDF are ``pending`` and ``rendering``; their depth is the sum,
  and ``oldestPendingAgeSeconds`` is the age (from ``createdAt``) of the oldest of them.
  ``failed`` ones are counted apart: they wait for a person, not for a worker.
- Mail is ``queued`` or ``sending``, likewise, with ``failed`` apart.
- One grouped aggregation per collection, on the ``status`` prefix of the queue indexes, so a
  load balancer polling ``/api/health`` costs two small index scans.
- These numbers never turn the answer into a 503: a slow queue is not a reason for a load
  balancer to take a replica out (that would not help); only the database being gone is.

``Readiness`` is the part anyone sees, "does it work": see its docstring.
"""
import logging
import threading
import time
from dataclasses import dataclass

import pymongo
from pymongo.errors import PyMongoError

from ..db import iso, now, ping_ms
from . import runner

log = logging.getLogger("lms.health")
REFRESH_SECONDS = 0.5  # how old the answer anyone gets may be, beyond the check's own time
CHECK_SECONDS = 0.75  # a ping (or heartbeat read) slower than this is a failed check
STALE_SECONDS = REFRESH_SECONDS + CHECK_SECONDS  # no success for this long: down, even while a check hangs

CERTIFICATE_STATES = ("pending", "rendering", "failed")
MAIL_STATES = ("queued", "sending", "failed")


def _by_status(collection, statuses):
    found = {row["_id"]: row for row in collection.aggregate([
        {"$match": {"status": {"$in": list(statuses)}}},
        {"$group": {"_id": "$status", "n": {"$sum": 1}, "oldest": {"$min": "$createdAt"}}}])}
    return {s: found.get(s, {"n": 0, "oldest": None}) for s in statuses}


def _age(*stamps, at):
    stamps = [s for s in stamps if s]
    return round((at - min(stamps)).total_seconds(), 1) if stamps else None


def queues(db):
    at = now()
    certs = _by_status(db.certificates, CERTIFICATE_STATES)
    mails = _by_status(db.mails, MAIL_STATES)
    return {
        "certificates": {"pending": certs["pending"]["n"], "rendering": certs["rendering"]["n"],
                         "failed": certs["failed"]["n"],
                         "depth": certs["pending"]["n"] + certs["rendering"]["n"],
                         "oldestPendingAgeSeconds": _age(certs["pending"]["oldest"],
                                                         certs["rendering"]["oldest"], at=at)},
        "mails": {"queued": mails["queued"]["n"], "sending": mails["sending"]["n"],
                  "failed": mails["failed"]["n"], "depth": mails["queued"]["n"] + mails["sending"]["n"],
                  "oldestQueuedAgeSeconds": _age(mails["queued"]["oldest"], mails["sending"]["oldest"],
                                                 at=at)},
    }


@dataclass(frozen=True)
class Checked:
    at: float  # time.monotonic() when the check started
    checked_at: str  # the same moment as an ISO-8601 UTC time (``db.checkedAt``)
    latency_ms: float
    heartbeat: dict  # runner.heartbeats(): the newest worker heartbeat, or None


class Readiness:
    """Whether this process can serve, as ``/api/health`` answers it: the database's ping and the
    newest worker heartbeat, checked every ``REFRESH_SECONDS`` in the background.

    Decisions:
    - A load balancer polls health often, from every replica; answering it from a check made at
      most ``REFRESH_SECONDS`` ago keeps a ping and a query off every such request, and keeps a
      flood of them from becoming a flood on the database.
    - One checker per process (``start`` is idempotent), a ``threading`` thread: in the served
      process gevent's monkey-patching makes it a greenlet, and where nothing is patched (the
      test suite) it is a real thread running the same code.
    - Each check is bounded by ``CHECK_SECONDS``; a failed one marks the state down at once, and
      a check that hangs cannot keep an old success alive: past ``STALE_SECONDS`` since the last
      success the state is down too. So an outage is a 503 within ``STALE_SECONDS``.
    """

    def __init__(self, db):
        self.db = db
        self.last = None  # the last check's Checked when it succeeded, None when it failed
        self._stopping = threading.Event()
        self._thread = None

    def start(self):
        if self._thread is None:
            self.check()  # the first answer is known before the first request
            self._thread = threading.Thread(target=self._run, name="lms-readiness", daemon=True)
            self._thread.start()
        return self

    def stop(self):
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(CHECK_SECONDS + REFRESH_SECONDS + 1)

    def current(self):
        """The last check when it succeeded less than ``STALE_SECONDS`` ago, else None."""
        last = self.last
        return last if last is not None and time.monotonic() - last.at < STALE_SECONDS else None

    def check(self):
        started, at = time.monotonic(), now()  # what is seen is at least as new as the check's start
        try:
            latency = ping_ms(self.db, CHECK_SECONDS)
            with pymongo.timeout(CHECK_SECONDS):
                heartbeat = runner.heartbeats(self.db)
        except PyMongoError:
            self.last = None
            return
        self.last = Checked(started, iso(at), latency, heartbeat)

    def _run(self):
        while not self._stopping.wait(REFRESH_SECONDS):
            try:
                self.check()
            except Exception:  # a bug here must not end the checks: health would turn 503 for good
                self.last = None
                log.exception("health check failed")
