"""The worker: periodic tasks driven by ``schedule``, a pool of job slots, and a heartbeat.

It runs in the web process (``LMS_WORKER=1``) or alone (``python lms.py worker``). Every piece
of its state is in MongoDB, so any number of workers can share one database; each claim of a
job is a single atomic update (``lms.worker.queue``), never a lock held in memory. The tasks it
runs are listed in ``lms.worker.schedule``.
"""
import logging
import os
import secrets
import socket

import gevent
import gevent.event
import gevent.pool
import schedule
from pymongo.errors import PyMongoError

from ..db import iso, now
from . import queue

log = logging.getLogger("lms.worker")
HEARTBEAT_SECONDS = 5


class Worker:
    """Periodic tasks and a pool of job slots in one process.

    Each task runs in its own greenlet and never overlaps itself, so a slow SMTP server holds
    up only the mail, not the certificate claims. ``wake()`` (called when a job of this process
    is enqueued, see ``queue.subscribe``, and when a slot frees up) runs the tasks registered
    with ``on_wake`` at once instead of at their next tick; a wake-up that arrives while such a task is running makes it run once more
    right after, so none is lost. Long jobs (renders) go to ``spawn``, at most ``concurrency``
    at a time.
    """

    def __init__(self, db, concurrency=2):
        self.db = db
        self.id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.concurrency = concurrency
        self.pool = gevent.pool.Pool(self.concurrency)
        self.scheduler = schedule.Scheduler()
        self.wakeup = gevent.event.Event()
        self.on_wake = []
        self.running = {}  # task -> the greenlet running it
        self.again = set()  # tasks woken while running: run once more when done
        self.stopping = False
        self.greenlet = None
        self.last_beat = None
        self.every(HEARTBEAT_SECONDS, self.heartbeat)

    def every(self, seconds, task, *, on_wake=False):
        """Run ``task()`` every ``seconds`` (and on ``wake()`` if ``on_wake``); a failing task
        is logged and tried again next time."""
        self.scheduler.every(seconds).seconds.do(self._launch, task)
        if on_wake:
            self.on_wake.append(task)

    def _launch(self, task):
        current = self.running.get(task)
        if current is not None and not current.dead:
            self.again.add(task)
            return
        self.running[task] = gevent.spawn(self._repeat, task)

    def _repeat(self, task):
        self._guarded(task)
        while task in self.again and not self.stopping:
            self.again.discard(task)
            self._guarded(task)

    def _guarded(self, task, *args, **kwargs):
        try:
            task(*args, **kwargs)
        except PyMongoError as exc:
            log.warning("worker task %s: database unavailable (%s)", task.__name__, exc)
        except Exception:
            log.exception("worker task %s failed", task.__name__)

    def heartbeat(self):
        self.db.workers.update_one(
            {"_id": self.id}, {"$set": {"heartbeatAt": now(), "pid": os.getpid()}}, upsert=True)
        self.last_beat = now()

    def free_slots(self):
        return 0 if self.stopping else self.pool.free_count()

    def spawn(self, job, *args, **kwargs):
        """Run ``job(*args, **kwargs)`` in a free slot (the caller checks ``free_slots`` first);
        when it ends, wake the worker so the slot is filled again at once."""
        greenlet = self.pool.spawn(self._guarded, job, *args, **kwargs)
        greenlet.link(lambda _: self.wake())
        return greenlet

    def start(self):
        self._guarded(self.heartbeat)
        self.greenlet = gevent.spawn(self._run)
        queue.subscribe(self.wake)
        return self

    def wake(self):
        self.wakeup.set()

    def _run(self):
        self.wake()  # a first round at once: jobs may have waited for a worker
        while not self.stopping:
            if self.wakeup.is_set():
                self.wakeup.clear()
                for task in self.on_wake:
                    self._launch(task)
            self.scheduler.run_pending()
            self.wakeup.wait(timeout=max(0.05, min(1.0, self.scheduler.idle_seconds or 1.0)))

    def stop(self, timeout=20):
        """Stop claiming, give running tasks and jobs ``timeout`` seconds, then kill them (a
        killed job keeps its lease, so another worker takes it over when the lease runs out)."""
        self.stopping = True
        queue.unsubscribe(self.wake)
        self.wakeup.set()
        if self.greenlet:
            self.greenlet.join(timeout)
            self.greenlet.kill()
        busy = [g for g in self.running.values() if not g.dead] + list(self.pool)
        gevent.joinall(busy, timeout=timeout)
        gevent.killall(busy, timeout=5)
        try:
            self.db.workers.delete_one({"_id": self.id})
        except PyMongoError:
            pass

    def status(self):
        return {"id": self.id, "running": bool(self.greenlet and not self.greenlet.dead),
                "lastHeartbeat": iso(self.last_beat), "concurrency": self.concurrency,
                "busy": len(self.pool)}


def heartbeats(db):
    """The newest heartbeat of any worker (so a web replica with LMS_WORKER=0 sees the others)."""
    latest = db.workers.find_one(sort=[("heartbeatAt", -1)])
    if not latest:
        return None
    age = (now() - latest["heartbeatAt"]).total_seconds()
    return {"lastHeartbeat": iso(latest["heartbeatAt"]), "ageSeconds": round(age, 1),
            "alive": age < HEARTBEAT_SECONDS * 3}
