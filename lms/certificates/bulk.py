"""A course's certificates at once: re-issue every active one with the current design, and
download them all as a ZIP.

Re-issue: ``start`` records a batch (``certificateBatches``, a ``LeasedQueue`` of its own) and
returns at once; the worker (``run_due``) queues each active certificate of the course again
(``records.requeue``, the same step as a single re-issue, marking it with the batch id), and the
certificate job renders them as usual. ``progress`` counts, from the certificates themselves,
how many of the batch are waiting, rendered and failed, so it is right whichever worker renders
them. A certificate revoked or being rendered at that moment is skipped (and counted so).

ZIP: ``archive`` yields a ZIP of every issued PDF of the course, one file at a time, read from
the storage and written to the response as it goes (a ZIP written to a stream that cannot
seek uses data descriptors, so no file is held back); the names are ``<certId>.pdf``.
"""
import zipfile

from .. import audit
from ..db import new_id, now
from ..errors import Conflict, NotFound
from ..schema import Integer, OneOf, Shape, Text, Timestamp
from ..worker.queue import LeasedQueue
from . import records

BATCHES = LeasedQueue("certificateBatches", waiting="queued", running="running", done="done")
BATCH = Shape("CertificateBatch", {
    "id": Text("_id"), "courseId": Text(), "status": OneOf(("queued", "running", "done", "failed")),
    "total": Integer(description="Active certificates when the batch was started"),
    "requeued": Integer(default=0, description="Queued again for a new render so far"),
    "skipped": Integer(default=0, description="Revoked or being rendered meanwhile: left as they were"),
    "rendered": Integer(default=0, description="Of those requeued, active again with the new render"),
    "waiting": Integer(default=0, description="Of those requeued, not rendered yet"),
    "failed": Integer(default=0, description="Of those requeued, failed (see the admin list)"),
    "createdAt": Timestamp(), "finishedAt": Timestamp(nullable=True)},
    description="A bulk re-issue and how far it got")


def start(db, course_id, actor):
    if not db.courses.count_documents({"_id": course_id}, limit=1):
        raise NotFound("Course not found")
    total = db.certificates.count_documents({"courseId": course_id, "status": "active"})
    batch = BATCHES.enqueue(db, {"_id": new_id(), "courseId": course_id, "total": total, "requeued": 0,
                                 "skipped": 0, "createdAt": now(), "createdBy": actor.id,
                                 "createdByRole": actor.role, "finishedAt": None})
    audit.record(db, actor, "certificate.bulk_reissue", "course", course_id, batch=batch["_id"], total=total)
    return progress(db, batch["_id"])


def run_due(db, worker_id, on_change=None):
    """Work through every due batch here; each certificate is queued with one guarded update."""
    while batch := BATCHES.claim(db, worker_id):
        actor = audit.Actor(batch["createdBy"], batch.get("createdByRole", "admin"))
        requeued = skipped = 0
        for cert in db.certificates.find({"courseId": batch["courseId"], "status": "active",
                                          "reissueBatch": {"$ne": batch["_id"]}}):
            try:
                records.requeue(db, cert, actor, batch=batch["_id"])
                requeued += 1
            except Conflict:
                skipped += 1
            if (requeued + skipped) % 50 == 0:
                BATCHES.renew(db, batch, worker_id)
                db.certificateBatches.update_one({"_id": batch["_id"]}, {"$set": {"requeued": requeued,
                                                                                 "skipped": skipped}})
        BATCHES.finish(db, batch, worker_id, {"requeued": requeued, "skipped": skipped, "finishedAt": now()})
        if on_change:
            on_change()


def progress(db, batch_id):
    batch = db.certificateBatches.find_one({"_id": batch_id})
    if not batch:
        raise NotFound("No such batch")
    counts = {row["_id"]: row["n"] for row in db.certificates.aggregate([
        {"$match": {"reissueBatch": batch_id}}, {"$group": {"_id": "$status", "n": {"$sum": 1}}}])}
    return {**batch, "rendered": counts.get("active", 0), "failed": counts.get("failed", 0),
            "waiting": counts.get("pending", 0) + counts.get("rendering", 0)}


def archive(db, storage, course_id):
    """``(file name, chunks)`` of the ZIP of the course's issued certificates; 404 for no course."""
    course = db.courses.find_one({"_id": course_id}, {"slug": 1})
    if not course:
        raise NotFound("Course not found")
    return f"certificates-{course['slug']}.zip", _zip(db, storage, course_id)


class _Sink:
    """A write-only stream whose writes are collected until taken."""

    def __init__(self):
        self.parts = []

    def write(self, data):
        self.parts.append(bytes(data))
        return len(data)

    def flush(self):
        pass

    def take(self):
        data, self.parts = b"".join(self.parts), []
        return data


def _zip(db, storage, course_id):
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:  # PDFs are compressed already
        for cert in db.certificates.find({"courseId": course_id, "status": "active",
                                          "storageKey": {"$type": "string"}},
                                         {"certId": 1, "storageKey": 1}).sort("certId", 1):
            try:
                data = storage.get(cert["storageKey"])
            except FileNotFoundError:
                continue
            archive.writestr(f"{cert['certId']}.pdf", data)
            yield sink.take()
    yield sink.take()
