"""What follows a certificate's activation: its picture and its REVOKED copy, a follow-up job
of low priority.

A certificate becomes ``active`` as soon as its clean PDF (credential attached, facts in the
metadata) is stored (``issuing``). Its picture (page one as a PNG, the credential baked in: the
verify page's image and the link previews'), its copy stamped REVOKED and that copy's picture
(``.png``, ``-revoked.pdf``, ``-revoked.png``) are made afterwards by this job, when no render is
waiting: together they cost more CPU than the render itself (two pdftoppm runs, two PNGs,
pypdf's stamp), and an employer checking a certificate needs its status and PDF first. Until
the picture is stored the record's ``previewUrl`` is null and the verify page shows none (a
crawler making a link preview in that second gets the page without an image).

The queue is the ``certificateStamps`` collection: one document per certificate whose files are
due, written before the certificate turns active (so a worker dying right after the activation
loses nothing), holding the clean PDF's bytes, its hash and the verify link the stamp names, and
deleted once the files are stored. It only ever holds the jobs not done yet, so it stays small
and its claims need no index. The record says ``revokedCopyDue: true`` meanwhile; the job sets
``previewUrl``, ``revokedPdfUrl``, ``revokedPreviewUrl`` and ``revokedHash`` (only while the
record still has the hash it stamped: a re-issue in between makes its own) and removes the flag.

Revocation before the copy exists: ``records.revoke`` marks the job ``urgent`` and wakes the
worker; an urgent copy goes before any waiting render (``issuing.start_due``), so it is stored
as soon as a worker slot is free, normally within a second (~50 ms of work; a worker in another
process finds it at its next poll, every second). Until then the revoked certificate shows no
PDF or picture link, and its old links (``/files/certificates/<certId>.pdf``, ``.png``) answer
404: a revoked certificate's links never serve the clean file. (The worker clears its process's
cached answers when the files are stored; other replicas' answers age out within the cache's
TTL.) A failed attempt (an upload outage) is tried again with a backoff of 10 s doubling to 10
minutes, for as long as it takes.
"""
import hashlib
import logging
from datetime import timedelta

import gevent
from bson import Binary

from ..db import now
from . import baking

log = logging.getLogger("lms.stamping")
COLLECTION = "certificateStamps"
LEASE = timedelta(seconds=60)
BACKOFF_BASE, BACKOFF_MAX = 10, 600
FILES = (  # record field of the URL, key suffix, content type
    ("previewUrl", ".png", "image/png"),
    ("revokedPdfUrl", "-revoked.pdf", "application/pdf"),
    ("revokedPreviewUrl", "-revoked.png", "image/png"),
)


def schedule(db, cert, pdf, verify_url):
    """Queue the picture and the REVOKED copy of ``cert``'s clean ``pdf`` (replacing a job queued
    for an earlier render), the stamp linking to ``verify_url``. Called before the certificate is
    made active."""
    db[COLLECTION].replace_one({"_id": cert["_id"]}, {
        "certId": cert["certId"], "hash": hashlib.sha256(pdf).hexdigest(), "pdf": Binary(pdf),
        "verifyUrl": verify_url, "urgent": False,
        "status": "due", "attempts": 0, "nextAttemptAt": now()}, upsert=True)


def hurry(db, cert):
    """``cert`` was revoked: make its copy next, before any waiting render. Returns whether one
    was due."""
    result = db[COLLECTION].update_one({"_id": cert["_id"]}, {"$set": {"urgent": True, "nextAttemptAt": now()}})
    return result.matched_count == 1


def claim(db, worker_id, *, urgent=False):
    """Take one due copy (with ``urgent``, only one of a revoked certificate), or one whose worker
    died; None if none."""
    stamp = now()
    query = {"$or": [{"status": "due", "nextAttemptAt": {"$lte": stamp}},
                     {"status": "stamping", "leaseUntil": {"$lt": stamp}}]}
    if urgent:
        query["urgent"] = True
    return db[COLLECTION].find_one_and_update(
        query, {"$set": {"status": "stamping", "leaseUntil": stamp + LEASE, "claimedBy": worker_id},
                "$inc": {"attempts": 1}}, sort=[("urgent", -1), ("nextAttemptAt", 1)])


def _attempt(fn, *args):
    """``(result, None)`` or ``(None, the exception)``: a failure is raised by whoever waits for it
    (``_outcome``), not printed by gevent's hub as a crashed greenlet."""
    try:
        return fn(*args), None
    except Exception as exc:  # noqa: BLE001 - handed to _outcome
        return None, exc


def _outcome(attempt):
    result, exc = attempt or (None, RuntimeError("the picture was not made"))
    if exc is not None:
        raise exc
    return result


def backoff(attempts):
    return min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


def stamp(db, job, worker_id, *, storage, renderer, on_change=None, **_):
    """Make, store and record the picture and the REVOKED copy of a claimed job (``FILES``);
    returns "done", "waiting" (to be tried again), "dropped" (the certificate was re-rendered or
    deleted meanwhile) or None (the job was no longer ours)."""
    mine = {"_id": job["_id"], "status": "stamping", "claimedBy": worker_id}
    cert = db.certificates.find_one({"_id": job["_id"]}, {"hash": 1, "certId": 1, "status": 1})
    if cert is None or (cert.get("hash") != job["hash"] and cert["status"] not in ("pending", "rendering")):
        db[COLLECTION].delete_one(mine)  # re-rendered, or its render was never activated
        return "dropped"
    try:
        if cert.get("hash") != job["hash"]:  # queued by the render that is activating it right now
            raise RuntimeError("the certificate is not active with this PDF yet")
        clean = bytes(job["pdf"])
        # pdftoppm (a process) makes the clean picture while the copy is stamped here.
        picture = gevent.spawn(_attempt, renderer.preview, clean)
        try:
            revoked = baking.stamp_revoked(clean, job["verifyUrl"])
            revoked_picture = renderer.preview(revoked)
            picture.join()
        finally:
            picture.kill()  # the stamp failed: the picture's process is stopped with it
        contents = (baking.bake_png(_outcome(picture.value), baking.pdf_credential(clean)), revoked, revoked_picture)
        fields = {field: storage.put(f"certificates/{cert['certId']}{suffix}", data, kind)
                  for (field, suffix, kind), data in zip(FILES, contents)}
    except Exception as exc:  # an outage or a bug: tried again later, never lost
        error = f"{type(exc).__name__}: {exc}"
        wait = backoff(job["attempts"])
        log.warning("certificate %s: REVOKED copy not made (attempt %s), next try in %ss: %s", cert["certId"],
                    job["attempts"], wait, error)
        result = db[COLLECTION].update_one(mine, {
            "$set": {"status": "due", "nextAttemptAt": now() + timedelta(seconds=wait), "lastError": error[:500]},
            "$unset": {"leaseUntil": "", "claimedBy": ""}})
        return "waiting" if result.matched_count else None
    # Ours until here (a late worker whose lease ran out records nothing), then the record.
    if not db[COLLECTION].delete_one(mine).deleted_count:
        return None
    db.certificates.update_one(
        {"_id": job["_id"], "hash": job["hash"]},
        {"$set": {**fields, "revokedHash": hashlib.sha256(revoked).hexdigest()}, "$unset": {"revokedCopyDue": ""}})
    if on_change:
        on_change()
    return "done"
