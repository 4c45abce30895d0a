"""Errands: account mail whose sending depends on whether an account exists, done by the worker.

A request that must not tell a stranger whether an address has an account (forgot-password,
resending a verification link, sign-up when verification is ``required``, the new address of an
e-mail change) only queues an errand here: one insert, the same for every address, so the answer
and its timing are the same too. The worker (``emails.run_errands``) then looks the address up
and queues the mail that fits (a link, or a notice to the owner of an address already in use),
or nothing. An errand holds the address only until it is done; then it is deleted (a TTL index
removes one that failed for good after a day).
"""
from ..db import new_id, now
from ..worker.queue import LeasedQueue

ERRANDS = LeasedQueue("errands", waiting="queued", running="running", done="done")
KINDS = ("reset", "verify", "signup", "change")


def ask(db, kind, **fields):
    """Queue an errand of ``kind`` (``email`` and what else it needs) for the worker."""
    if kind not in KINDS:
        raise ValueError(kind)
    ERRANDS.enqueue(db, {"_id": new_id(), "kind": kind, "createdAt": now(), **fields})


def claim(db, worker_id):
    return ERRANDS.claim(db, worker_id)


def done(db, errand, worker_id):
    """The errand is done: forget it (and the address it held)."""
    db.errands.delete_one({"_id": errand["_id"], "status": ERRANDS.running, "claimedBy": worker_id})


def failed(db, errand, worker_id, error):
    return ERRANDS.retry_or_fail(db, errand, worker_id, error)
