"""Accounts: the ``users`` collection, sign-in by password, profile and admin changes, the
bootstrap admin."""
from pymongo.errors import DuplicateKeyError

from .. import audit
from ..adapters.mail import messages, queue as mail
from ..db import find_one_and_update, new_id, now
from ..errors import BadRequest, Conflict, Forbidden, NotFound, Unauthenticated
from ..schema import Boolean, OneOf, Shape, Text, Timestamp
from . import passwords, sessions

ROLES = ("student", "instructor", "admin")
# The only shape in which a user leaves this module (never the password hash).
USER = Shape("User", {
    "id": Text("_id"), "name": Text(), "email": Text(format="email"), "role": OneOf(ROLES),
    "emailVerified": Boolean(description="The owner of the address opened a link mailed to it"),
    "disabled": Boolean(), "createdAt": Timestamp(), "updatedAt": Timestamp(nullable=True)})
public = USER.dump


def new(*, name, email, password_hash, role="student", verified=False):
    """A user document, not stored yet."""
    if role not in ROLES:
        raise ValueError(role)
    stamp = now()
    return {"_id": new_id(), "name": name, "email": email.strip().lower(), "passwordHash": password_hash,
            "role": role, "emailVerified": verified, "disabled": False, "createdAt": stamp, "updatedAt": stamp}


def insert(db, user, actor=None):
    """Store ``user``; the unique index on email makes a duplicate a Conflict, also in a race."""
    try:
        db.users.insert_one(user)
    except DuplicateKeyError:
        raise Conflict("An account with this e-mail already exists", code="email_taken") from None
    audit.record(db, actor or audit.Actor(user["_id"], user["role"]), "user.create", "user", user["_id"],
                 role=user["role"])
    return user


def create(db, *, name, email, password, role="student", rounds=12, actor=None, verified=False):
    """Hash the password and insert the user (see ``insert``)."""
    return insert(db, new(name=name, email=email, password_hash=passwords.hash(password, rounds), role=role,
                          verified=verified), actor)


def get(db, user_id):
    user = db.users.find_one({"_id": user_id})
    if not user:
        raise NotFound("User not found")
    return user


def find_by_email(db, email):
    return db.users.find_one({"email": email.strip().lower()})


def ensure_admin(db, *, email, password, name="Administrator", rounds=12):
    """Create this admin unless a user with the e-mail exists (never overwrite one). The operator
    gave the address, so it counts as verified."""
    if find_by_email(db, email):
        return None
    try:
        return create(db, name=name, email=email, password=password, role="admin", rounds=rounds,
                      actor=audit.SYSTEM, verified=True)
    except Conflict:  # another replica created it a moment ago
        return None


def authenticate(db, email, password, *, rounds, require_verified=False):
    """The user with these credentials; Unauthenticated otherwise, the same for every cause
    (unknown e-mail, wrong password, a password too long to be anyone's)."""
    user = find_by_email(db, email)
    valid = passwords.check(password, user["passwordHash"] if user else passwords.dummy_hash(rounds))
    if not (user and valid):
        raise Unauthenticated("Invalid e-mail or password", code="invalid_credentials")
    if user.get("disabled"):
        raise Forbidden("This account is disabled", code="account_disabled")
    if require_verified and not user.get("emailVerified"):
        raise Forbidden("Confirm your e-mail address first: open the link we mailed you, or ask for a new one",
                        code="email_unverified")
    return user


def confirm_password(db, user_id, password, field="password"):
    """The user's document when ``password`` is theirs, else 400 ``wrong_password`` on ``field``
    (a signed-in user confirming a change that a stolen session must not make)."""
    user = get(db, user_id)
    if not passwords.check(password, user["passwordHash"]):
        raise BadRequest("That is not your password", code="wrong_password",
                         fields={field: "is not your current password"})
    return user


def set_password(db, user_id, password_hash, actor, action, keep=None):
    """Store a new password hash and end every session of the user but ``keep``; audited as
    ``action``. Returns how many sessions ended."""
    db.users.update_one({"_id": user_id}, {"$set": {"passwordHash": password_hash, "updatedAt": now()}})
    ended = sessions.revoke_all(db, user_id, keep=keep)
    audit.record(db, actor, action, "user", user_id, sessionsEnded=ended)
    return ended


def change_password(db, user_id, current, new_password, *, rounds, actor, keep):
    """The signed-in user changes their password: every other session ends (``keep`` is the
    asking one), and the address gets a notice. Returns how many sessions ended."""
    user = confirm_password(db, user_id, current, field="currentPassword")
    passwords.judge(new_password, user["email"], field="newPassword")
    ended = set_password(db, user_id, passwords.hash(new_password, rounds), actor, "user.password_change", keep=keep)
    mail.enqueue(db, user["email"], messages.render("password_changed", name=user["name"]), kind="password_changed")
    return ended


def rename(db, user_id, name, actor):
    """The user changes their own name (certificates keep the name they were issued with)."""
    before = get(db, user_id)
    user = find_one_and_update(db.users, {"_id": user_id}, {"$set": {"name": name, "updatedAt": now()}}, after=True)
    if before["name"] != name:
        audit.record(db, actor, "user.profile_update", "user", user_id, fields=["name"])
    return user


def update(db, user_id, changes, actor):
    """Admin changes to role and disabled; disabling ends every session of the user."""
    if user_id == actor.id:
        raise Conflict("You cannot change your own role or disable yourself", code="self_change")
    changes = {k: v for k, v in changes.items() if k in ("role", "disabled")}
    before = get(db, user_id)
    user = find_one_and_update(db.users, {"_id": user_id}, {"$set": {**changes, "updatedAt": now()}}, after=True)
    if changes.get("disabled"):
        sessions.revoke_all(db, user_id)
    diff = {k: {"from": before.get(k), "to": v} for k, v in changes.items() if before.get(k) != v}
    if diff:
        audit.record(db, actor, "user.update", "user", user_id, changes=diff)
    return user


def end_sessions(db, user_id, actor):
    """An admin ends every session of a user (a lost laptop); returns how many ended."""
    get(db, user_id)
    ended = sessions.revoke_all(db, user_id)
    audit.record(db, actor, "user.sessions_revoke", "user", user_id, sessionsEnded=ended)
    return ended
