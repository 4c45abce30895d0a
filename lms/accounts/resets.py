"""Password resets: a single-use token, mailed, valid for an hour, stored only as its hash."""
import secrets
from datetime import timedelta

from .. import audit
from ..adapters.mail import messages, queue as mail
from ..db import new_id, now
from ..errors import BadRequest
from . import passwords, sessions, users

RESET_TTL = timedelta(hours=1)


def request(db, email, reset_link):
    """Queue a single-use reset link if the account exists; the caller answers the same anyway."""
    user = users.find_by_email(db, email)
    if not user or user.get("disabled"):
        return
    token = secrets.token_urlsafe(32)
    stamp = now()
    db.passwordResets.insert_one({"_id": new_id(), "tokenHash": sessions.token_hash(token),
                                  "userId": user["_id"], "createdAt": stamp,
                                  "expiresAt": stamp + RESET_TTL, "usedAt": None})
    mail.enqueue(db, user["email"], messages.render("password_reset", name=user["name"], link=reset_link(token)))


def reset(db, token, password, *, rounds, actor):
    """Use a reset token once: set the password and end every session of the user."""
    password_hash = passwords.hash(password, rounds)  # before the claim: a crash here burns nothing
    stamp = now()
    claimed = db.passwordResets.find_one_and_update(
        {"tokenHash": sessions.token_hash(token), "usedAt": None, "expiresAt": {"$gt": stamp}},
        {"$set": {"usedAt": stamp}})
    if not claimed:
        raise BadRequest("This reset link is invalid, used or expired", code="invalid_token")
    db.users.update_one({"_id": claimed["userId"]},
                        {"$set": {"passwordHash": password_hash, "updatedAt": stamp}})
    db.passwordResets.update_many({"userId": claimed["userId"], "usedAt": None}, {"$set": {"usedAt": stamp}})
    sessions.revoke_all(db, claimed["userId"])
    audit.record(db, audit.Actor(claimed["userId"], "user", actor.ip, actor.request_id),
                 "user.password_reset", "user", claimed["userId"])
