"""An account's e-mail address: signing up with it, proving it, changing it.

``LMS_EMAIL_VERIFICATION`` (``mode`` below):
- ``off``: no verification mail; ``emailVerified`` stays false and nothing asks for it.
- ``optional`` (the default): sign-up signs in at once and mails a link; ``emailVerified`` tells
  the frontend whether to remind the user. Sign-up of a taken address is a 409 ``email_taken``
  (which does tell a stranger that the address has an account).
- ``required``: sign-up answers the same 202 for every address and signs nobody in; the worker
  creates the account and mails its link, or, when the address has an account already, mails its
  owner that someone tried to sign up with it (``errands``). Signing in, and every private route
  beyond the account's own (``/api/user/…``, ``/api/auth/…``), need a verified address: 403
  ``email_unverified`` (``lms.web.guard``).

Links (``links``: single use, 24 hours) point at the frontend's ``/verify-email?token=…``;
``POST /api/auth/verify-email {token}`` uses one. A change of address is asked for with the
password, and mailed to the new address as such a link (the same page); the account keeps its
old address until the link is used, then gets the new one, verified, and the old address gets a
notice. A new address that has an account already gets the "already in use" notice instead, so
the answer tells the asker nothing about it either.
"""
from pymongo.errors import DuplicateKeyError

from .. import audit
from ..adapters.mail import messages, queue as mail
from ..db import now
from ..errors import BadRequest, Conflict, ValidationError
from . import errands, links, passwords, resets, users

MODES = ("off", "optional", "required")


def sign_up(db, *, name, email, password, mode, rounds, urls):
    """The new user (to sign in), or None when ``mode`` is ``required`` and the worker decides."""
    passwords.judge(password, email)
    password_hash = passwords.hash(password, rounds)
    if mode == "required":
        errands.ask(db, "signup", name=name, email=email, passwordHash=password_hash)
        return None
    user = users.insert(db, users.new(name=name, email=email, password_hash=password_hash))
    if mode == "optional":
        mail_verification(db, user, urls)
    return user


def resend(db, email, mode):
    """Mail a new verification link to ``email`` if it has an unverified account (an errand;
    nothing with verification ``off``)."""
    if mode != "off":
        errands.ask(db, "verify", email=email)


def request_change(db, user_id, email, password, actor):
    """Ask for the account's address to become ``email``; the password confirms it is the owner."""
    user = users.confirm_password(db, user_id, password)
    if email == user["email"]:
        raise ValidationError({"email": "is already your address"})
    errands.ask(db, "change", email=email, userId=user_id)
    audit.record(db, actor, "user.email_change_request", "user", user_id)


def confirm(db, token, actor):
    """Use a verification or change link; returns the user. 400 ``invalid_token``; 409
    ``email_taken`` when the new address got an account meanwhile (the link stays usable)."""
    pending = links.peek(db, token, "verify", "change")
    if not pending:
        raise BadRequest("This link is invalid, used or expired", code="invalid_token")
    user = users.get(db, pending["userId"])
    changes = {"emailVerified": True}
    if pending["purpose"] == "change":
        changes["email"] = pending["email"]
    try:  # the token is used only once the address is known to be free
        db.users.update_one({"_id": user["_id"]}, {"$set": {**changes, "updatedAt": now()}})
    except DuplicateKeyError:
        raise Conflict("Another account has this address now", code="email_taken") from None
    if not links.use(db, token, pending["purpose"]):
        raise BadRequest("This link is invalid, used or expired", code="invalid_token")
    links.burn(db, user["_id"], "verify", "change")
    actor = audit.Actor(user["_id"], user["role"], actor.ip, actor.request_id)
    if pending["purpose"] == "change":
        audit.record(db, actor, "user.email_change", "user", user["_id"])
        mail.enqueue(db, user["email"], messages.render("email_changed", name=user["name"], address=pending["email"]),
                     kind="email_changed")
    else:
        audit.record(db, actor, "user.email_verify", "user", user["_id"])
    return users.get(db, user["_id"])


def mail_verification(db, user, urls):
    token = links.issue(db, "verify", user["_id"])
    mail.enqueue(db, user["email"], messages.render("verify_email", name=user["name"], link=_link(urls, token)),
                 kind="verify_email")


def _link(urls, token):
    return urls.frontend("verify-email", token=token)


def _in_use(db, email, urls):
    mail.enqueue(db, email, messages.render("address_in_use", sign_in=urls.frontend("login"),
                                            reset=urls.frontend("forgot-password")), kind="address_in_use")


# --- the worker's half of each errand --------------------------------------------------------

def _verify(db, errand, urls):
    user = users.find_by_email(db, errand["email"])
    if user and not user.get("emailVerified") and not user.get("disabled"):
        mail_verification(db, user, urls)


def _signup(db, errand, urls):
    user = users.new(name=errand["name"], email=errand["email"], password_hash=errand["passwordHash"])
    try:
        users.insert(db, user)
    except Conflict:
        return _in_use(db, errand["email"], urls)
    mail_verification(db, user, urls)


def _change(db, errand, urls):
    user = db.users.find_one({"_id": errand["userId"]})
    if user is None:
        return  # deleted meanwhile
    if users.find_by_email(db, errand["email"]):
        return _in_use(db, errand["email"], urls)
    token = links.issue(db, "change", user["_id"], email=errand["email"])
    mail.enqueue(db, errand["email"], messages.render("email_change", name=user["name"], link=_link(urls, token)),
                 kind="email_change")


DOERS = {"reset": resets.mail_link, "verify": _verify, "signup": _signup, "change": _change}


def run_errands(db, urls, worker_id, limit=50):
    """Do the due errands (at most ``limit``); returns how many were done."""
    count = 0
    for _ in range(limit):
        errand = errands.claim(db, worker_id)
        if errand is None:
            break
        try:
            DOERS[errand["kind"]](db, errand, urls)
        except Exception as exc:  # a database hiccup: the errand is tried again later
            errands.failed(db, errand, worker_id, f"{type(exc).__name__}: {exc}")
            continue
        errands.done(db, errand, worker_id)
        count += 1
    return count
