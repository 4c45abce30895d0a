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
"""
from ..db import now

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
