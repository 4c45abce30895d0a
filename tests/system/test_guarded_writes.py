"""``lms.db.find_one_and_update``: one guarded write, taken by exactly one of the requests racing
for it, sent as a find and an update keyed by ``_id`` (the embedded server runs a
``findAndModify`` as a scan of the whole collection)."""
import threading

import pytest

from lms.db import find_one_and_update
from support.database import watched


def test_the_write_is_keyed_by_id_and_re_asserts_the_query(db):
    db.tokens.insert_many([{"_id": f"t{i}", "hash": f"h{i}", "usedAt": None} for i in range(50)])
    client, watched_db, commands = watched(db)
    try:
        used = find_one_and_update(watched_db.tokens, {"hash": "h7", "usedAt": None}, {"$set": {"usedAt": 1}})
    finally:
        client.close()

    assert used == {"_id": "t7", "hash": "h7", "usedAt": None}  # as it was
    assert db.tokens.find_one({"_id": "t7"})["usedAt"] == 1
    assert [name for name, _ in commands.sent] == ["find", "update"]
    update = commands.sent[1][1]["updates"][0]
    assert update["q"] == {"hash": "h7", "usedAt": None, "_id": "t7"}


def test_of_requests_racing_for_one_change_exactly_one_makes_it(db):
    db.orders.insert_one({"_id": "o1", "status": "open"})
    won, lock, start = [], threading.Lock(), threading.Barrier(8)

    def pay(n):
        start.wait()
        paid = find_one_and_update(db.orders, {"_id": "o1", "status": "open"},
                                   {"$set": {"status": "paid", "by": n}}, after=True)
        if paid:
            with lock:
                won.append(paid)
    threads = [threading.Thread(target=pay, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(won) == 1
    assert won[0] == db.orders.find_one({"_id": "o1"})  # the document after is the one stored


def test_a_lost_race_moves_on_to_the_next_match(db):
    db.seats.insert_many([{"_id": f"s{i}", "free": True} for i in range(20)])
    taken, lock = [], threading.Lock()

    def take():
        while seat := find_one_and_update(db.seats, {"free": True}, {"$set": {"free": False}}):
            with lock:
                taken.append(seat["_id"])
    threads = [threading.Thread(target=take) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(taken) == sorted(f"s{i}" for i in range(20))  # each once, none left


def test_the_document_after_drops_unset_fields_and_other_operators_are_refused(db):
    db.certs.insert_one({"_id": "c1", "status": "rendering", "leaseUntil": 5, "name": "Ann"})
    after = find_one_and_update(db.certs, {"_id": "c1"}, {"$set": {"status": "pending"}, "$unset": {"leaseUntil": ""}},
                                after=True)
    assert after == db.certs.find_one({"_id": "c1"}) == {"_id": "c1", "status": "pending", "name": "Ann"}
    assert find_one_and_update(db.certs, {"_id": "nope"}, {"$set": {"status": "x"}}, after=True) is None
    with pytest.raises(ValueError):
        find_one_and_update(db.certs, {"_id": "c1"}, {"$inc": {"n": 1}}, after=True)
    with pytest.raises(ValueError):
        find_one_and_update(db.certs, {"_id": "c1"}, {"$set": {"a.b": 1}}, after=True)
