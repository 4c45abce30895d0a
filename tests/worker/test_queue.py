"""A claim takes each due job exactly once, however many workers race for it, and costs the
same however many jobs the queue has done: it finds through the queue's indexes and writes by
``_id`` (the embedded server runs a ``findAndModify`` as a scan of the whole collection)."""
import threading
from datetime import timedelta

from lms.adapters.mail.queue import MAIL
from lms.certificates import issuing
from lms.certificates.records import JOBS
from lms.db import INDEXES, new_id, now
from lms.reports import stats
from support.database import watched
from support.factories import create_course, pending_certificate


def queued(db, n, **fields):
    return [MAIL.enqueue(db, {"_id": new_id(), "to": f"s{i}@example.com", **fields})["_id"] for i in range(n)]


def served_by_an_index(collection, query):
    """Whether one index of ``collection`` in ``INDEXES`` holds every field ``query`` names (the
    embedded server's planner passes over an index that lacks one of them)."""
    fields = set(query)
    return "$or" not in fields and ("_id" in fields or any(
        fields <= set(index.document["key"]) for index in INDEXES[collection]))


def test_a_claim_finds_through_the_queue_s_indexes_and_writes_by_id(db, settings):
    queued(db, 3)
    db.mails.update_many({}, {"$set": {"status": "sent"}})  # the queue's history
    wanted = queued(db, 1)[0]
    stale = queued(db, 1)[0]
    db.mails.update_one({"_id": stale}, {"$set": {"status": "sending", "claimedBy": "gone",
                                                  "leaseUntil": now() - timedelta(seconds=1)}})
    course = create_course(db, price=0)
    certs = [pending_certificate(db, settings, course=course) for _ in range(3)]

    client, watched_db, commands = watched(db)
    try:
        assert MAIL.claim(watched_db, "w1")["_id"] == stale  # a dead worker's job first
        assert MAIL.claim(watched_db, "w1")["_id"] == wanted
        assert MAIL.claim(watched_db, "w1") is None
        together = issuing.claim_together(watched_db, "w1")
    finally:
        client.close()

    assert sorted(c["_id"] for c in together) == sorted(c["_id"] for c in certs)
    names = [name for name, _ in commands.sent]
    assert "findAndModify" not in names
    for name, command in commands.sent:
        if name == "find":
            assert served_by_an_index(command["find"], command["filter"]), command
        if name == "update":
            assert all("_id" in update["q"] for update in command["updates"]), command


def test_workers_racing_for_jobs_take_each_exactly_once(db):
    jobs = set(queued(db, 40))
    taken, lock = [], threading.Lock()

    def work(worker):
        while (job := MAIL.claim(db, worker)) is not None:
            with lock:
                taken.append((job["_id"], worker, job["attempts"]))
    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(job for job, _, _ in taken) == sorted(jobs)
    assert {attempts for _, _, attempts in taken} == {1}
    for job, worker, _ in taken:
        stored = db.mails.find_one({"_id": job})
        assert (stored["status"], stored["claimedBy"], stored["attempts"]) == ("sending", worker, 1)


def test_batches_of_one_course_racing_share_its_certificates_without_overlap(db, settings):
    course = create_course(db, price=0)
    certs = {pending_certificate(db, settings, course=course)["_id"] for _ in range(30)}
    batches, lock = [], threading.Lock()

    def work(worker):
        while claimed := issuing.claim_together(db, worker, most=4):
            with lock:
                batches.append((worker, [c["_id"] for c in claimed]))
    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    taken = [cert for _, batch in batches for cert in batch]
    assert sorted(taken) == sorted(certs)  # each once
    assert all(len(batch) <= 4 for _, batch in batches)
    for worker, batch in batches:
        for cert in db.certificates.find({"_id": {"$in": batch}}):
            assert (cert["status"], cert["claimedBy"], cert["attempts"]) == (JOBS.running, worker, 1)


def test_a_job_not_due_yet_is_left_alone_by_a_batch(db, settings):
    course = create_course(db, price=0)
    first, due, later = (pending_certificate(db, settings, course=course) for _ in range(3))
    db.certificates.update_one({"_id": later["_id"]}, {"$set": {"nextAttemptAt": now() + timedelta(minutes=5)}})

    claimed = issuing.claim_together(db, "w1")

    assert sorted(c["_id"] for c in claimed) == sorted([first["_id"], due["_id"]])
    assert db.certificates.find_one({"_id": later["_id"]})["status"] == "pending"
    counted = db.dailyStats.find_one({"_id": stats.day_of(first["createdAt"])})["certificates"]
    assert {status: n for status, n in counted.items() if n} == {"pending": 1, JOBS.running: 2}
