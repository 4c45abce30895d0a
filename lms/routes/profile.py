"""The signed-in user's own account: name, e-mail address, password, sessions, their data, and
deleting the account. Each change is audited by the domain function that makes it."""
import bottle

from ..accounts import emails, privacy, sessions, users
from ..pagination import whole_page
from ..schema import Bool, Email, Obj, Password, Str
from ..web import guard

PASSWORD = Str(min=1, max=1000, strip=False, description="The account's current password")
RENAME = Obj(name=Str(min=1, max=100))  # a PATCH body: unknown fields are refused
EMAIL_CHANGE = Obj(email=Email(description="The new address; it becomes the account's once its link is opened"),
                   password=PASSWORD)
PASSWORD_CHANGE = Obj(currentPassword=PASSWORD, newPassword=Password())
DELETION = Obj(password=PASSWORD, revokeCertificates=Bool(
    default=False, description="Revoke the account's certificates (reason: account deleted) instead of "
                               "keeping them verifiable"))


def rename(db, user, body, actor):
    return {"user": users.public(users.rename(db, user["id"], body["name"], actor))}


def change_email(db, user, body, actor):
    emails.request_change(db, user["id"], body["email"], body["password"], actor)
    return {"_status": 202, "message": "Open the link we are mailing to the new address to make it yours"}


def change_password(db, settings, user, body, actor):
    ended = users.change_password(db, user["id"], body["currentPassword"], body["newPassword"],
                                  rounds=settings.bcrypt_rounds, actor=actor, keep=guard.session_id(bottle.request))
    return {"message": "Your password was changed; your other sessions were ended", "sessionsEnded": ended}


def my_sessions(db, user):
    return whole_page(sessions.of(db, user["id"], current=guard.session_id(bottle.request)))


def end_session(db, settings, user, id, actor):
    sessions.end(db, user["id"], id, actor)
    if id == guard.session_id(bottle.request):
        guard.clear_cookies(settings)
    return {}


def export(db, urls, user):
    document = privacy.export(db, user["id"], urls, current=guard.session_id(bottle.request))
    bottle.response.set_header("Content-Disposition", f'attachment; filename="lms-account-{user["id"]}.json"')
    return {"export": document}


def delete_account(db, settings, storage, user, body, actor):
    outcome = privacy.erase(db, storage, user["id"], body["password"], revoke_certificates=body["revokeCertificates"],
                            actor=actor)
    guard.clear_cookies(settings)
    return {"message": "Your account was deleted", **outcome}
