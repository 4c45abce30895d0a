"""The worker: periodic jobs driven by ``schedule`` inside one greenlet, and a heartbeat.

It runs in the web process (``LMS_WORKER=1``) or alone (``python lms.py worker``). Every piece
of its state is in MongoDB, so any number of workers can share one database; each claim of a
job is a single atomic update, never a lock held in memory.
"""
import logging
import os
import socket
import secrets

from datetime import timedelta

import gevent
import gevent.event
import schedule
from pymongo import ReturnDocument
from pymongo.errors import PyMongoError

from .db import iso, now

log = logging.getLogger("lms.worker")
HEARTBEAT_SECONDS = 5
LEASE = timedelta(seconds=30)
MAX_ATTEMPTS = 5
BACKOFF_BASE, BACKOFF_MAX = 10, 3600  # seconds: 10, 20, 40, 80 ...


def claim(collection, worker_id, *, waiting, running, lease=LEASE, **_):
    """Atomically take one due job: a ``waiting`` one whose time has come, or a ``running`` one
    whose lease ran out (its worker died). One ``find_one_and_update``: no job is taken twice."""
    t = now()
    return collection.find_one_and_update(
        {"$or": [{"status": waiting, "nextAttemptAt": {"$lte": t}},
                 {"status": running, "leaseUntil": {"$lt": t}}]},
        {"$set": {"status": running, "leaseUntil": t + lease, "claimedBy": worker_id},
         "$inc": {"attempts": 1}},
        sort=[("nextAttemptAt", 1)], return_document=ReturnDocument.AFTER)


def _mine(job, worker_id, running):
    # Every write after a claim is guarded: if our lease expired and another worker took the
    # job over, our late result must not overwrite theirs.
    return {"_id": job["_id"], "status": running, "claimedBy": worker_id}


def renew(collection, job, worker_id, *, running, lease=LEASE, **_):
    """Extend the lease of a job still being worked on; False when it was taken over."""
    result = collection.update_one(_mine(job, worker_id, running),
                                   {"$set": {"leaseUntil": now() + lease}})
    return result.matched_count == 1


def finish(collection, job, worker_id, fields, *, running, done, **_):
    result = collection.update_one(_mine(job, worker_id, running),
                                   {"$set": {"status": done, **fields},
                                    "$unset": {"leaseUntil": "", "claimedBy": ""}})
    return result.matched_count == 1


def backoff(attempts):
    return min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


def retry_or_fail(collection, job, worker_id, error, *, waiting, running, failed,
                  max_attempts=MAX_ATTEMPTS, **_):
    """Schedule the next attempt with exponential backoff, or give up after ``max_attempts``.
    Returns the job's new status (None if it was no longer ours)."""
    give_up = job["attempts"] >= max_attempts
    status = failed if give_up else waiting
    fields = {"status": status, "lastError": error[:500]}
    if not give_up:
        fields["nextAttemptAt"] = now() + timedelta(seconds=backoff(job["attempts"]))
    result = collection.update_one(_mine(job, worker_id, running),
                                   {"$set": fields, "$unset": {"leaseUntil": "", "claimedBy": ""}})
    return status if result.matched_count else None


class Worker:
    def __init__(self, runtime):
        self.runtime = runtime
        self.id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.scheduler = schedule.Scheduler()
        self.wakeup = gevent.event.Event()
        self.stopping = False
        self.greenlet = None
        self.last_beat = None
        self.every(HEARTBEAT_SECONDS, self.heartbeat)

    def every(self, seconds, task):
        """Run ``task()`` every ``seconds``; a failing task is logged and tried again next time."""
        self.scheduler.every(seconds).seconds.do(self._guarded, task)

    def _guarded(self, task):
        try:
            task()
        except PyMongoError as exc:
            log.warning("worker task %s: database unavailable (%s)", task.__name__, exc)
        except Exception:
            log.exception("worker task %s failed", task.__name__)

    def heartbeat(self):
        self.runtime.db.workers.update_one(
            {"_id": self.id}, {"$set": {"heartbeatAt": now(), "pid": os.getpid()}}, upsert=True)
        self.last_beat = now()

    def start(self):
        self._guarded(self.heartbeat)
        self.greenlet = gevent.spawn(self._run)
        return self

    def wake(self):
        self.wakeup.set()

    def _run(self):
        while not self.stopping:
            self.scheduler.run_pending()
            self.wakeup.clear()
            self.wakeup.wait(timeout=max(0.05, min(1.0, self.scheduler.idle_seconds or 1.0)))

    def stop(self, timeout=20):
        self.stopping = True
        self.wakeup.set()
        if self.greenlet:
            self.greenlet.join(timeout)
            self.greenlet.kill()
        try:
            self.runtime.db.workers.delete_one({"_id": self.id})
        except PyMongoError:
            pass

    def status(self):
        return {"id": self.id, "running": bool(self.greenlet and not self.greenlet.dead),
                "lastHeartbeat": iso(self.last_beat)}


def heartbeats(db):
    """The newest heartbeat of any worker (so a web replica with LMS_WORKER=0 sees the others)."""
    latest = db.workers.find_one(sort=[("heartbeatAt", -1)])
    if not latest:
        return None
    age = (now() - latest["heartbeatAt"]).total_seconds()
    return {"lastHeartbeat": iso(latest["heartbeatAt"]), "ageSeconds": round(age, 1),
            "alive": age < HEARTBEAT_SECONDS * 3}
