"""Refresh-token sessions: opaque tokens, stored hashed, rotated on every use, in families.

Each sign-in starts a family. A refresh marks its token used and issues the next one in the same
family. Presenting a token that was already used means it was copied: the whole family is
revoked (theft detection). Two refreshes racing with one token: exactly one wins; the loser gets
401, and when the token was used only a moment ago (``GRACE``, two tabs refreshing together) the
family is left alone rather than signing the user out everywhere.
"""
import hashlib
import secrets
from datetime import timedelta

from pymongo import ReturnDocument

from .. import audit
from ..db import new_id, now
from ..errors import Unauthenticated

REFRESH_TTL = timedelta(days=30)
GRACE = timedelta(seconds=10)


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def start(db, user_id, *, family_id=None, ip=None, user_agent=None):
    """Store a new session; return its refresh token (the only time it exists in clear)."""
    token = secrets.token_urlsafe(32)
    stamp = now()
    db.sessions.insert_one({
        "_id": new_id(), "tokenHash": token_hash(token), "familyId": family_id or new_id(),
        "userId": user_id, "createdAt": stamp, "expiresAt": stamp + REFRESH_TTL,
        "usedAt": None, "revokedAt": None, "ip": ip, "userAgent": (user_agent or "")[:300]})
    return token


def rotate(db, token, *, ip=None, user_agent=None):
    """Use ``token`` once: return (user document, next refresh token); raise Unauthenticated."""
    stamp = now()
    session = db.sessions.find_one_and_update(
        {"tokenHash": token_hash(token), "usedAt": None, "revokedAt": None,
         "expiresAt": {"$gt": stamp}},
        {"$set": {"usedAt": stamp}}, return_document=ReturnDocument.AFTER)
    if session is None:
        _explain_refusal(db, token, stamp)
    user = db.users.find_one({"_id": session["userId"]})
    if not user or user.get("disabled"):
        revoke_family(db, session["familyId"])
        raise Unauthenticated("This account is disabled", code="account_disabled")
    return user, start(db, user["_id"], family_id=session["familyId"], ip=ip, user_agent=user_agent)


def _explain_refusal(db, token, stamp):
    session = db.sessions.find_one({"tokenHash": token_hash(token)})
    if session and session.get("usedAt") and not session.get("revokedAt") \
            and stamp - session["usedAt"] > GRACE:
        revoke_family(db, session["familyId"])
        audit.record(db, audit.Actor(session["userId"], "unknown"), "session.reuse_detected",
                     "user", session["userId"], familyId=session["familyId"])
        raise Unauthenticated("This session was ended; sign in again", code="session_revoked")
    raise Unauthenticated("Your session has expired; sign in again", code="session_expired")


def revoke_family(db, family_id):
    db.sessions.update_many({"familyId": family_id, "revokedAt": None}, {"$set": {"revokedAt": now()}})


def revoke_token_family(db, token):
    session = db.sessions.find_one({"tokenHash": token_hash(token)}, {"familyId": 1})
    if session:
        revoke_family(db, session["familyId"])


def revoke_all(db, user_id):
    db.sessions.update_many({"userId": user_id, "revokedAt": None}, {"$set": {"revokedAt": now()}})
