"""Accounts: the ``users`` collection, password hashing and the bootstrap admin."""
import bcrypt
import gevent
from pymongo.errors import DuplicateKeyError

from . import audit
from .db import iso, new_id, now
from .errors import Conflict, NotFound

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
