"""Links sent by e-mail: single-use tokens that prove who holds a mailbox.

One collection, ``emailTokens``, for every purpose: ``reset`` (a password reset, valid one hour),
``verify`` (the address given at sign-up, 24 hours) and ``change`` (a new address for an
account, 24 hours; the document keeps the new address). A token is 256 random bits, mailed once
and stored only as its SHA-256. Using one is a single guarded update (unused, unexpired, of its
purpose), so two clicks on one link use it once.
"""
import secrets
from datetime import timedelta

from ..db import find_one_and_update, new_id, now
from .sessions import token_hash

LIFETIMES = {"reset": timedelta(hours=1), "verify": timedelta(hours=24), "change": timedelta(hours=24)}


def issue(db, purpose, user_id, **fields):
    """A new token for ``purpose``; returns it in clear (the only time it exists so)."""
    token = secrets.token_urlsafe(32)
    stamp = now()
    db.emailTokens.insert_one({"_id": new_id(), "purpose": purpose, "tokenHash": token_hash(token),
                               "userId": user_id, "createdAt": stamp, "expiresAt": stamp + LIFETIMES[purpose],
                               "usedAt": None, **fields})
    return token


def _usable(purpose, token):
    return {"tokenHash": token_hash(token), "purpose": {"$in": list(purpose)}, "usedAt": None,
            "expiresAt": {"$gt": now()}}


def peek(db, token, *purpose):
    """The token's document while it is usable for one of ``purpose``, without using it."""
    return db.emailTokens.find_one(_usable(purpose, token))


def use(db, token, *purpose):
    """Use the token once; its document, or None when it is unknown, used, expired or for another purpose."""
    return find_one_and_update(db.emailTokens, _usable(purpose, token), {"$set": {"usedAt": now()}}, after=True)


def burn(db, user_id, *purpose):
    """Make every unused token of the user for ``purpose`` unusable (the one that mattered was used)."""
    db.emailTokens.update_many({"userId": user_id, "purpose": {"$in": list(purpose)}, "usedAt": None},
                               {"$set": {"usedAt": now()}})
