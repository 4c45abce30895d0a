"""In-app notifications: what the frontend shows under the bell ("your certificate is ready").

One document per message to one user; ``readAt`` is None until the user marks it read. They are
written by the domain code that has news (the certificate worker, revocations) and never
change otherwise, so a list is a plain newest-first page of the user's documents.
"""
from ..db import new_id, now
from ..pagination import paginate
from ..schema import Boolean, Shape, Text, Timestamp

NOTIFICATION = Shape("Notification", {
    "id": Text("_id"), "kind": Text(description="certificate.issued, certificate.revoked, ..."),
    "title": Text(), "body": Text(), "link": Text(format="uri", nullable=True),
    "read": Boolean(get=lambda note, _: note.get("readAt") is not None),
    "readAt": Timestamp(nullable=True), "createdAt": Timestamp()})
public = NOTIFICATION.dump


def add(db, user_id, kind, title, body, link=None):
    note = {"_id": new_id(), "userId": user_id, "kind": kind, "title": title, "body": body,
            "link": link, "readAt": None, "createdAt": now()}
    db.notifications.insert_one(note)
    return note


def of(db, user_id, page, limit, unread=None, cursor=None):
    """A page of the user's notifications, newest first, with the number still unread (for a
    badge). ``unread=True`` lists only those."""
    query = {"userId": user_id}
    if unread is not None:
        query["readAt"] = None if unread else {"$ne": None}
    listing = paginate(db.notifications, query, [("createdAt", -1)], page, limit, public, cursor=cursor, few=True)
    listing["unread"] = db.notifications.count_documents({"userId": user_id, "readAt": None})
    return listing


def created_since(db, since, limit=1000):
    """Everyone's notifications created at ``since`` or later, oldest first (the event stream's
    poll: one query for every open stream of the process)."""
    return list(db.notifications.find({"createdAt": {"$gte": since}})
                .sort([("createdAt", 1), ("_id", 1)]).limit(limit))


def after(db, user_id, note_id, limit=100):
    """The user's notifications after ``note_id`` (a resumed event stream's backlog), oldest
    first; none when ``note_id`` is not one of theirs."""
    last = db.notifications.find_one({"_id": note_id, "userId": user_id}, {"createdAt": 1})
    if last is None:
        return []
    return list(db.notifications.find({"userId": user_id, "$or": [
        {"createdAt": {"$gt": last["createdAt"]}}, {"createdAt": last["createdAt"], "_id": {"$gt": note_id}}]})
        .sort([("createdAt", 1), ("_id", 1)]).limit(limit))


def mark_read(db, user_id, ids=None):
    """Mark the user's notifications ``ids`` (all of them when None) read; ids that are not
    theirs or already read are left alone. Returns how many changed."""
    query = {"userId": user_id, "readAt": None}
    if ids is not None:
        query["_id"] = {"$in": list(ids)}
    return db.notifications.update_many(query, {"$set": {"readAt": now()}}).modified_count
