"""When to ask Razorpay again about something the webhooks may have missed.

``Checks`` schedules one kind of document (open orders, captured payments): a first check
``first`` after it starts, then at doubling intervals up to ``cap`` apart, ``max_checks`` times
(or for as long as ``live`` keeps selecting it). Taking a check is a compare-and-set on
``nextCheckAt`` that pushes it a ``LEASE`` ahead, so one worker checks a document at a time and a
check that died (Razorpay down, a crash) comes back a minute later.
"""
from datetime import timedelta

LEASE = timedelta(minutes=1)


class Checks:
    def __init__(self, collection, live, *, first, cap, max_checks=None):
        self.collection, self.live = collection, live  # live(at): the query of documents still checked
        self.first, self.cap, self.max_checks = first, cap, max_checks

    def start(self, at):
        """The fields that schedule a document's first check."""
        return {"nextCheckAt": at + self.first, "checks": 0}

    def due(self, db, at, limit):
        return list(db[self.collection].find({**self.live(at), "nextCheckAt": {"$lte": at}})
                    .sort([("nextCheckAt", 1), ("_id", 1)]).limit(limit))

    def take(self, db, doc, at):
        """Lease this document's check to the caller; False when another worker is checking it."""
        return db[self.collection].update_one({"_id": doc["_id"], "nextCheckAt": doc["nextCheckAt"]},
                                              {"$set": {"nextCheckAt": at + LEASE}}).modified_count == 1

    def done(self, db, doc, at):
        """Count one check and schedule the next (doubling), or none after ``max_checks``."""
        checks = doc.get("checks", 0) + 1
        last = self.max_checks is not None and checks >= self.max_checks
        later = None if last else at + min(self.first * 2 ** checks, self.cap)
        db[self.collection].update_one({"_id": doc["_id"], **self.live(at)},
                                       {"$set": {"nextCheckAt": later, "checks": checks}})
