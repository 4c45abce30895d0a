"""Sessions: refresh tokens in families, and whether a family still stands.

Each sign-in starts a family (its id is the access token's ``sid``). A refresh marks its token
used and issues the next one in the same family. Presenting a token that was already used means
it was copied: the whole family is revoked (theft detection). Two refreshes racing with one
token: exactly one wins; the loser gets 401, and when the token was used only a moment ago
(``GRACE``, two tabs refreshing together) the family is left alone rather than signing the user
out everywhere.

A family is live while one of its tokens is neither revoked nor expired. Every authenticated
request asks that (``live``: one read on the ``familyId`` index), so ending a family — logout,
a password change or reset, disabling the user, the user or an admin ending it — ends its access
tokens at once, not when they run out.

What the user sees as "a session" is a family: where it started (``startedAt``), and the device
and address of its newest token. ``lastUsedAt`` is when that token was issued: a browser in use
refreshes at least every 15 minutes (the access token's life), so it is that precise, without a
write on every request.
"""
import functools
import hashlib
import secrets
from collections import namedtuple
from datetime import timedelta

from ua_parser import parse as parse_user_agent

from .. import audit
from ..db import find_one_and_update, new_id, now
from ..errors import Forbidden, NotFound, Unauthenticated
from ..schema import Boolean, Shape, Text, Timestamp

REFRESH_TTL = timedelta(days=30)
GRACE = timedelta(seconds=10)
Issued = namedtuple("Issued", "token family")  # a refresh token (the only time it exists in clear), its family

SESSION = Shape("Session", {
    "id": Text("familyId", description="The session's id (DELETE /api/user/sessions/{id} ends it)"),
    "device": Text(get=lambda s, _: device(s.get("userAgent")), description="Browser and system, as named by "
                   "its User-Agent"),
    "userAgent": Text(nullable=True), "ip": Text(nullable=True),
    "createdAt": Timestamp(get=lambda s, _: s.get("startedAt") or s["createdAt"], description="Signed in at"),
    "lastUsedAt": Timestamp("createdAt", description="Last sign-in or refresh (a page in use refreshes at least "
                            "every 15 minutes)"),
    "current": Boolean(get=lambda s, context: s["familyId"] == context.get("current"),
                       description="The session this request came in")})


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def start(db, user_id, *, family_id=None, started=None, ip=None, user_agent=None):
    """Store a new session (or the next token of ``family_id``); returns ``Issued``."""
    token = secrets.token_urlsafe(32)
    stamp = now()
    family = family_id or new_id()
    db.sessions.insert_one({
        "_id": new_id(), "tokenHash": token_hash(token), "familyId": family, "userId": user_id,
        "createdAt": stamp, "startedAt": started or stamp, "expiresAt": stamp + REFRESH_TTL,
        "usedAt": None, "revokedAt": None, "ip": ip, "userAgent": (user_agent or "")[:300]})
    return Issued(token, family)


def rotate(db, token, *, ip=None, user_agent=None):
    """Use ``token`` once: return (user document, ``Issued``); raise Unauthenticated, or
    Forbidden ``account_disabled``."""
    stamp = now()
    session = find_one_and_update(
        db.sessions, {"tokenHash": token_hash(token), "usedAt": None, "revokedAt": None, "expiresAt": {"$gt": stamp}},
        {"$set": {"usedAt": stamp}}, after=True)
    if session is None:
        _explain_refusal(db, token, stamp)
    user = db.users.find_one({"_id": session["userId"]})
    if not user:
        revoke_family(db, session["familyId"])
        raise Unauthenticated("This account no longer exists", code="session_revoked")
    if user.get("disabled"):
        revoke_family(db, session["familyId"])
        raise Forbidden("This account is disabled", code="account_disabled")
    return user, start(db, user["_id"], family_id=session["familyId"], started=session.get("startedAt"),
                       ip=ip, user_agent=user_agent)


def _explain_refusal(db, token, stamp):
    session = db.sessions.find_one({"tokenHash": token_hash(token)})
    if session and session.get("usedAt") and not session.get("revokedAt") \
            and stamp - session["usedAt"] > GRACE:
        revoke_family(db, session["familyId"])
        audit.record(db, audit.Actor(session["userId"], "unknown"), "session.reuse_detected",
                     "user", session["userId"], familyId=session["familyId"])
        raise Unauthenticated("This session was ended; sign in again", code="session_revoked")
    raise Unauthenticated("Your session has expired; sign in again", code="session_expired")


def live(db, family_id):
    """Whether the family ``family_id`` still stands (the check behind every access token)."""
    return db.sessions.find_one({"familyId": family_id, "revokedAt": None, "expiresAt": {"$gt": now()}},
                                {"_id": 1}) is not None


def revoke_family(db, family_id):
    db.sessions.update_many({"familyId": family_id, "revokedAt": None}, {"$set": {"revokedAt": now()}})


def revoke_token_family(db, token):
    session = db.sessions.find_one({"tokenHash": token_hash(token)}, {"familyId": 1})
    if session:
        revoke_family(db, session["familyId"])


def revoke_all(db, user_id, keep=None):
    """End every live session of the user but ``keep`` (a family id); returns how many ended."""
    stamp = now()
    query = {"userId": user_id, "revokedAt": None, "expiresAt": {"$gt": stamp}}
    if keep:
        query["familyId"] = {"$ne": keep}
    ended = db.sessions.distinct("familyId", query)
    if ended:
        db.sessions.update_many({"familyId": {"$in": ended}, "revokedAt": None}, {"$set": {"revokedAt": stamp}})
    return len(ended)


def of(db, user_id, current=None):
    """The user's live sessions, newest first, in the ``Session`` shape; ``current`` is the
    family of the asking request."""
    heads = db.sessions.find({"userId": user_id, "usedAt": None, "revokedAt": None, "expiresAt": {"$gt": now()}})
    return [SESSION.dump(s, current=current) for s in sorted(heads, key=lambda s: s["createdAt"], reverse=True)]


def end(db, user_id, family_id, actor):
    """The user ends one of their sessions; 404 when it is not theirs or already over."""
    if not db.sessions.count_documents({"familyId": family_id, "userId": user_id, "revokedAt": None,
                                        "expiresAt": {"$gt": now()}}, limit=1):
        raise NotFound("No such session")
    revoke_family(db, family_id)
    audit.record(db, actor, "session.revoke", "user", user_id, familyId=family_id)


@functools.lru_cache(maxsize=1024)
def device(user_agent):
    """"Firefox 130 on Linux", "Mobile Safari 17 on iOS (iPhone)": a User-Agent as a person reads it."""
    if not user_agent:
        return "Unknown device"
    parsed = parse_user_agent(user_agent)
    browser = " ".join(filter(None, (parsed.user_agent.family, parsed.user_agent.major))) if parsed.user_agent \
        else "Unknown browser"
    system = parsed.os.family if parsed.os else None
    model = parsed.device.family if parsed.device and parsed.device.family not in ("Other", "Spider") else None
    return browser + (f" on {system}" if system else "") + (f" ({model})" if model else "")
