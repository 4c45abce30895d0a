"""Accounts: the ``users`` collection, sign-in by password and the bootstrap admin."""
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from .. import audit
from ..db import new_id, now
from ..errors import Conflict, Forbidden, NotFound, Unauthenticated
from ..schema import Boolean, OneOf, Shape, Text, Timestamp
from . import passwords, sessions

ROLES = ("student", "instructor", "admin")
# The only shape in which a user leaves this module (never the password hash).
USER = Shape("User", {
    "id": Text("_id"), "name": Text(), "email": Text(format="email"), "role": OneOf(ROLES),
    "disabled": Boolean(), "createdAt": Timestamp(), "updatedAt": Timestamp(nullable=True)})
public = USER.dump


def create(db, *, name, email, password, role="student", rounds=12, actor=None):
    """Insert a user; the unique index on email makes a duplicate a Conflict, also in a race."""
    if role not in ROLES:
        raise ValueError(role)
    stamp = now()
    user = {"_id": new_id(), "name": name, "email": email.strip().lower(),
            "passwordHash": passwords.hash(password, rounds), "role": role, "disabled": False,
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


def authenticate(db, email, password, *, rounds):
    """The user with these credentials; Unauthenticated otherwise, the same for both causes."""
    user = find_by_email(db, email)
    valid = passwords.check(password, user["passwordHash"] if user else passwords.dummy_hash(rounds))
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
