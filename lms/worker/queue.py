"""A job queue in a MongoDB collection, with leases: ``LeasedQueue``, one instance per job kind.

A job is a document with a ``status``: ``waiting`` until its ``nextAttemptAt``, ``running`` while
a worker holds its lease, then ``done``, or back to ``waiting`` with a backoff after a failure,
and ``failed`` after ``max_attempts``. A claim takes a running job whose lease ran out (its worker
died) or else the waiting job due first, each found through an index of its own and taken by a
write keyed by its ``_id`` that re-asserts the state it was found in (``lms.db.find_one_and_update``),
so no job is taken twice (a claim that loses the race takes the next). The embedded server ran a
claim's findAndModify as a scan of the whole collection, so every claim cost as much as all the
jobs ever done (0.13 s at 20,000 documents, measured); it still reads every due job for the
find: a claim grows with the backlog, not with the history.
Every write after a claim is guarded by the status and the worker id, so a late worker (whose
lease expired and whose job another worker took over) can never overwrite the newer result.

    CERTIFICATES = LeasedQueue("certificates", waiting="pending", running="rendering", done="active")
    job = CERTIFICATES.claim(db, worker_id)
    ... CERTIFICATES.finish(db, job, worker_id, {"pdfUrl": url})

A queue may be told of every status change (``on_move(db, jobs, old, new)``, called after the
write that made it landed, and only then): the certificates' keeps the day counters of
``lms.reports.stats``.

Enqueueing wakes the workers of this process at once (``subscribe``), so a new job starts within
milliseconds instead of at the next poll; workers in other processes find it at their next poll
(every second). Neither is needed for correctness: the collection is the queue.
"""
from datetime import timedelta

from ..db import find_one_and_update, now

LEASE = timedelta(seconds=30)
MAX_ATTEMPTS = 5
BACKOFF_BASE, BACKOFF_MAX = 10, 3600  # seconds: 10, 20, 40, 80 ...

_subscribers = set()  # callables woken whenever any queue of this process gets a job


def subscribe(wake):
    _subscribers.add(wake)


def unsubscribe(wake):
    _subscribers.discard(wake)


def backoff(attempts):
    return min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


class LeasedQueue:
    def __init__(self, collection, *, waiting, running, done, failed="failed", lease=LEASE,
                 max_attempts=MAX_ATTEMPTS, on_move=None):
        self.collection = collection  # the collection's name
        self.waiting, self.running, self.done, self.failed = waiting, running, done, failed
        self.lease, self.max_attempts = lease, max_attempts
        self.on_move = on_move

    def _moved(self, db, jobs, old, new):
        if self.on_move and old != new and jobs:
            self.on_move(db, jobs, old, new)

    def __repr__(self):
        return f"LeasedQueue({self.collection!r})"

    def enqueue(self, db, job):
        """Insert ``job`` (a document with its ``_id``) as due now; returns it as stored."""
        stamp = now()
        job = {**job, "status": self.waiting, "attempts": 0, "nextAttemptAt": stamp}
        db[self.collection].insert_one(job)
        self._moved(db, [job], None, self.waiting)
        self.enqueued()
        return job

    def enqueued(self):
        """A job became due (inserted, or put back by a re-issue): wake this process's workers."""
        for wake in list(_subscribers):
            wake()

    def claim(self, db, worker_id):
        """Atomically take one due job for ``worker_id``; None when there is none."""
        t = now()
        claimed = self._claimed(worker_id, t)
        # One index each, (status, leaseUntil) and (status, nextAttemptAt): the embedded
        # server scans the collection for an $or, or for a query with a field its index lacks.
        for found_as, order in (({"status": self.running, "leaseUntil": {"$lt": t}}, None),
                                ({"status": self.waiting, "nextAttemptAt": {"$lte": t}}, [("nextAttemptAt", 1)])):
            before = find_one_and_update(db[self.collection], found_as, {"$set": claimed, "$inc": {"attempts": 1}},
                                         sort=order)
            if before is not None:
                job = {**before, **claimed, "attempts": before.get("attempts", 0) + 1}
                self._moved(db, [job], before["status"], self.running)
                return job
        return None

    def claim_like(self, db, first, field, worker_id, most):
        """Take up to ``most`` more due waiting jobs with ``first``'s value of ``field`` (a
        field that the queue's collection indexes together with ``status``); [] if none."""
        if most < 1:
            return []  # (a limit of 0 would read them all)
        t = now()
        found_as = {field: first[field], "status": self.waiting}
        due = [job["_id"] for job in db[self.collection].find(found_as, {"nextAttemptAt": 1}).limit(most * 2)
               if job["nextAttemptAt"] <= t][:most]  # filtered here: a range would cost a scan
        if not due:
            return []
        claimed = self._claimed(worker_id, t)
        db[self.collection].update_many({"_id": {"$in": due}, **found_as, "nextAttemptAt": {"$lte": t}},
                                        {"$set": claimed, "$inc": {"attempts": 1}})
        # Ours are those with this claim's lease (another worker may have taken some meanwhile).
        jobs = list(db[self.collection].find({"_id": {"$in": due}, "claimedBy": worker_id,
                                              "leaseUntil": claimed["leaseUntil"]}))
        self._moved(db, jobs, self.waiting, self.running)
        return jobs

    def _claimed(self, worker_id, t):
        return {"status": self.running, "leaseUntil": t + self.lease, "claimedBy": worker_id}

    def _mine(self, job, worker_id):
        return {"_id": job["_id"], "status": self.running, "claimedBy": worker_id}

    def renew(self, db, job, worker_id):
        """Extend the lease of a job still being worked on; False when it was taken over."""
        result = db[self.collection].update_one(self._mine(job, worker_id),
                                                {"$set": {"leaseUntil": now() + self.lease}})
        return result.matched_count == 1

    def renew_all(self, db, jobs, worker_id):
        """``renew`` of several jobs in one write; True when every one of them is still ours."""
        result = db[self.collection].update_many(
            {"_id": {"$in": [job["_id"] for job in jobs]}, "status": self.running, "claimedBy": worker_id},
            {"$set": {"leaseUntil": now() + self.lease}})
        return result.matched_count == len(jobs)

    def finish(self, db, job, worker_id, fields):
        """Mark the job done with ``fields``; False when it was no longer ours."""
        result = db[self.collection].update_one(
            self._mine(job, worker_id),
            {"$set": {"status": self.done, **fields}, "$unset": {"leaseUntil": "", "claimedBy": ""}})
        return self._landed(db, job, result, self.done)

    def _landed(self, db, job, result, status):
        """Whether a write guarded by our claim landed (it moved the job from running to
        ``status``)."""
        if result.matched_count != 1:
            return False
        self._moved(db, [job], self.running, status)
        return True

    def postpone(self, db, job, worker_id, until, fields=None):
        """Put a claimed job back to wait until ``until`` without counting the attempt (its
        failure was someone else's: an outside service asked us to wait). False when it was no
        longer ours."""
        result = db[self.collection].update_one(
            self._mine(job, worker_id),
            {"$set": {"status": self.waiting, "nextAttemptAt": until, **(fields or {})}, "$inc": {"attempts": -1},
             "$unset": {"leaseUntil": "", "claimedBy": ""}})
        return self._landed(db, job, result, self.waiting)

    def fail(self, db, job, worker_id, error):
        """Give up on a claimed job now; False when it was no longer ours."""
        result = db[self.collection].update_one(
            self._mine(job, worker_id),
            {"$set": {"status": self.failed, "lastError": error[:500]}, "$unset": {"leaseUntil": "", "claimedBy": ""}})
        return self._landed(db, job, result, self.failed)

    def retry_or_fail(self, db, job, worker_id, error):
        """Schedule the next attempt with exponential backoff, or give up after ``max_attempts``.
        Returns the job's new status (None if it was no longer ours)."""
        give_up = job["attempts"] >= self.max_attempts
        status = self.failed if give_up else self.waiting
        fields = {"status": status, "lastError": error[:500]}
        if not give_up:
            fields["nextAttemptAt"] = now() + timedelta(seconds=backoff(job["attempts"]))
        result = db[self.collection].update_one(
            self._mine(job, worker_id), {"$set": fields, "$unset": {"leaseUntil": "", "claimedBy": ""}})
        return status if self._landed(db, job, result, status) else None
