"""Accounts: the ``users`` collection, password hashing and the bootstrap admin."""
import secrets
from datetime import timedelta

import bcrypt
import gevent
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from . import audit, mailqueue, sessions
from .db import iso, new_id, now
from .errors import BadRequest, Conflict, Forbidden, NotFound, Unauthenticated

ROLES = ("student", "instructor", "admin")


def public(user):
    """The only shape in which a user leaves this module (never the password hash)."""
    return {"id": user["_id"], "name": user["name"], "email": user["email"], "role": user["role"],
            "disabled": bool(user.get("disabled")), "createdAt": iso(user["createdAt"]),
            "updatedAt": iso(user.get("updatedAt"))}


def hash_password(password, rounds):
    # bcrypt holds the CPU for ~300 ms at 12 rounds; in the thread pool the hub keeps serving.
    salt = bcrypt.gensalt(rounds)
    return _in_thread(bcrypt.hashpw, password.encode(), salt).decode()


def check_password(password, password_hash):
    return _in_thread(bcrypt.checkpw, password.encode(), password_hash.encode())


def _in_thread(fn, *args):
    return gevent.get_hub().threadpool.apply(fn, args)


def create(db, *, name, email, password, role="student", rounds=12, actor=None):
    """Insert a user; the unique index on email makes a duplicate a Conflict, also in a race."""
    if role not in ROLES:
        raise ValueError(role)
    stamp = now()
    user = {"_id": new_id(), "name": name, "email": email.strip().lower(),
            "passwordHash": hash_password(password, rounds), "role": role, "disabled": False,
            "createdAt": stamp, "updatedAt": stamp}
    try:
        db.users.insert_one(user)
    except DuplicateKeyError:
        raise Conflict("An account with this e-mail already exists", code="email_taken") from None
    audit.record(db, actor or audit.Actor(user["_id"], role), "user.create", "user", user["_id"],
                 role=role)
    return user


def get(db, user_id):
    user = db.users.find_one({"_id": user_id})
    if not user:
        raise NotFound("User not found")
    return user


def find_by_email(db, email):
    return db.users.find_one({"email": email.strip().lower()})


def ensure_admin(db, *, email, password, name="Administrator", rounds=12):
    """Create this admin unless a user with the e-mail exists (never overwrite one)."""
    if find_by_email(db, email):
        return None
    try:
        return create(db, name=name, email=email, password=password, role="admin", rounds=rounds,
                      actor=audit.SYSTEM)
    except Conflict:  # another replica created it a moment ago
        return None


# A real hash to compare against when the e-mail is unknown, so that answer costs the same time.
_DUMMY_HASHES = {}


def _dummy_hash(rounds):
    if rounds not in _DUMMY_HASHES:
        _DUMMY_HASHES[rounds] = hash_password(secrets.token_urlsafe(16), rounds)
    return _DUMMY_HASHES[rounds]


def authenticate(db, email, password, *, rounds):
    """The user with these credentials; Unauthenticated otherwise, the same for both causes."""
    user = find_by_email(db, email)
    valid = check_password(password, user["passwordHash"] if user else _dummy_hash(rounds))
    if not (user and valid):
        raise Unauthenticated("Invalid e-mail or password", code="invalid_credentials")
    if user.get("disabled"):
        raise Forbidden("This account is disabled", code="account_disabled")
    return user


def update(db, user_id, changes, actor):
    """Admin changes to role and disabled; disabling ends every session of the user."""
    if user_id == actor.id:
        raise Conflict("You cannot change your own role or disable yourself", code="self_change")
    changes = {k: v for k, v in changes.items() if k in ("role", "disabled")}
    before = get(db, user_id)
    user = db.users.find_one_and_update({"_id": user_id}, {"$set": {**changes, "updatedAt": now()}},
                                        return_document=ReturnDocument.AFTER)
    if changes.get("disabled"):
        sessions.revoke_all(db, user_id)
    diff = {k: {"from": before.get(k), "to": v} for k, v in changes.items() if before.get(k) != v}
    if diff:
        audit.record(db, actor, "user.update", "user", user_id, changes=diff)
    return user


RESET_TTL = timedelta(hours=1)


def request_password_reset(db, email, *, reset_url):
    """Queue a single-use reset link if the account exists; the caller answers the same anyway."""
    user = find_by_email(db, email)
    if not user or user.get("disabled"):
        return
    token = secrets.token_urlsafe(32)
    stamp = now()
    db.passwordResets.insert_one({"_id": new_id(), "tokenHash": sessions.token_hash(token),
                                  "userId": user["_id"], "createdAt": stamp,
                                  "expiresAt": stamp + RESET_TTL, "usedAt": None})
    link = f"{reset_url}?token={token}"
    mailqueue.enqueue(db, user["email"], "Reset your password", (
        f"Hello {user['name']},\n\nSomeone (hopefully you) asked to reset the password of your "
        f"account. Open this link within one hour to choose a new one:\n\n{link}\n\n"
        "If it was not you, ignore this message; your password stays as it is.\n"))


def reset_password(db, token, password, *, rounds, actor):
    """Use a reset token once: set the password and end every session of the user."""
    password_hash = hash_password(password, rounds)  # before the claim: a crash here burns nothing
    stamp = now()
    reset = db.passwordResets.find_one_and_update(
        {"tokenHash": sessions.token_hash(token), "usedAt": None, "expiresAt": {"$gt": stamp}},
        {"$set": {"usedAt": stamp}})
    if not reset:
        raise BadRequest("This reset link is invalid, used or expired", code="invalid_token")
    db.users.update_one({"_id": reset["userId"]},
                        {"$set": {"passwordHash": password_hash, "updatedAt": stamp}})
    db.passwordResets.update_many({"userId": reset["userId"], "usedAt": None}, {"$set": {"usedAt": stamp}})
    sessions.revoke_all(db, reset["userId"])
    audit.record(db, audit.Actor(reset["userId"], "user", actor.ip, actor.request_id),
                 "user.password_reset", "user", reset["userId"])
