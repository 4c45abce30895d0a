"""Password resets: a single-use link, mailed, valid for an hour, stored only as its hash.

Asking (``request``) is an errand, so known and unknown addresses get the same answer in the
same time; the worker mails the link when the account exists and is not disabled (``mail_link``).
Asking again does not cancel earlier links, and a link lives as long as the per-address limit on
asking (an hour), so whoever floods an address with requests cannot keep its owner from finishing
a reset already mailed: the newest link outlives any refusal. Using one sets the password and
ends every session of the user; every other unused link of theirs stops working.
"""
from .. import audit
from ..adapters.mail import messages, queue as mail
from ..errors import BadRequest
from . import errands, links, passwords, users


def request(db, email):
    errands.ask(db, "reset", email=email)


def mail_link(db, errand, urls):
    """The worker's half: mail a reset link if the account exists and may sign in."""
    user = users.find_by_email(db, errand["email"])
    if not user or user.get("disabled"):
        return
    token = links.issue(db, "reset", user["_id"])
    mail.enqueue(db, user["email"], messages.render(
        "password_reset", name=user["name"], link=urls.frontend("reset-password", token=token)), kind="password_reset")


def reset(db, token, password, *, rounds, actor):
    """Use a reset token once: set the password and end every session of the user."""
    pending = links.peek(db, token, "reset")
    if not pending:
        raise _invalid()
    user = users.get(db, pending["userId"])
    passwords.judge(password, user["email"])
    password_hash = passwords.hash(password, rounds)  # before the token is used: a crash here burns nothing
    if not links.use(db, token, "reset"):
        raise _invalid()  # another request used it meanwhile
    links.burn(db, user["_id"], "reset")
    actor = audit.Actor(user["_id"], user["role"], actor.ip, actor.request_id)
    users.set_password(db, user["_id"], password_hash, actor, "user.password_reset")
    mail.enqueue(db, user["email"], messages.render("password_changed", name=user["name"]), kind="password_changed")


def _invalid():
    return BadRequest("This reset link is invalid, used or expired", code="invalid_token")
