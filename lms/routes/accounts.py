"""Sign-up, sign-in, session refresh and bootstrap, sign-out, password reset, e-mail verification;
the user's notifications; admin changes to users."""
import bottle

from ..accounts import emails, notifications, resets, sessions, users
from ..errors import Forbidden, Unauthenticated
from ..schema import PAGE, Bool, Email, Id, List, Obj, Password, Query, Str
from ..web import guard

SIGNUP = Obj(name=Str(min=1, max=100), email=Email(), password=Password())
LOGIN = Obj(email=Email(), password=Str(min=1, max=1000, strip=False))
FORGOT = Obj(email=Email())
TOKEN = Obj(token=Str(min=20, max=200, description="The token of the link that was mailed"))
RESET = TOKEN.extend(password=Password())
USER_CHANGES = Obj(role=Str(choices=users.ROLES, required=False), disabled=Bool(required=False))
NOTIFICATIONS = Query(unread=Bool(required=False, description="true: only unread; false: only read"), **PAGE)
MARK_READ = Obj(ids=List(Id(), min=1, max=100, required=False,
                         description="The notifications to mark read; all of them when absent"))
CHECK_INBOX = "Check your inbox: we sent a link to confirm the address"


def signup(db, settings, urls, body):
    user = emails.sign_up(db, **body, mode=settings.email_verification, rounds=settings.bcrypt_rounds, urls=urls)
    if user is None:  # LMS_EMAIL_VERIFICATION=required: the same answer for every address
        return {"_status": 202, "message": CHECK_INBOX}
    return {"_status": 201, **_signed_in(db, settings, user)}


def login(db, settings, body):
    user = users.authenticate(db, body["email"], body["password"], rounds=settings.bcrypt_rounds,
                              require_verified=settings.email_verification == "required")
    return _signed_in(db, settings, user)


def _signed_in(db, settings, user):
    return {"user": users.public(user), "csrfToken": guard.start_session(db, settings, user)}


def refresh(db, settings):
    request = bottle.request
    token = request.get_cookie(guard.REFRESH_COOKIE)
    if not token:
        raise Unauthenticated("No session to refresh", code="session_expired")
    try:
        user, issued = sessions.rotate(db, token, **guard.client(request))
    except (Unauthenticated, Forbidden):
        guard.clear_cookies(settings)
        raise
    csrf = guard.set_cookies(settings, user, issued, request.get_cookie(guard.CSRF_COOKIE))
    return {"user": users.public(user), "csrfToken": csrf}


def session(settings, user):
    return {"user": user, "csrfToken": guard.csrf_token(settings, bottle.request)}


def logout(db, settings):
    request = bottle.request
    token = request.get_cookie(guard.REFRESH_COOKIE)
    if token:
        sessions.revoke_token_family(db, token)
    if guard.session_id(request):  # a page holding the access token alone (the refresh one is path-scoped)
        sessions.revoke_family(db, guard.session_id(request))
    guard.clear_cookies(settings)
    return {}


def forgot_password(db, body):
    resets.request(db, body["email"])
    return {"message": "If an account exists for this e-mail, a reset link is on its way"}


def reset_password(db, settings, body, actor):
    resets.reset(db, body["token"], body["password"], rounds=settings.bcrypt_rounds, actor=actor)
    guard.clear_cookies(settings)
    return {"message": "Your password was changed; sign in with the new one"}


def verify_email(db, body, actor):
    emails.confirm(db, body["token"], actor)
    return {"message": "Your e-mail address is confirmed"}


def resend_verification(db, settings, body):
    emails.resend(db, body["email"], settings.email_verification)
    return {"message": "If this address has an account still to confirm, a new link is on its way"}


def me(user):
    return {"user": user}


def update_user(db, id, body, actor):
    return {"user": users.public(users.update(db, id, body, actor))}


def end_user_sessions(db, id, actor):
    return {"revoked": users.end_sessions(db, id, actor)}


def my_notifications(db, user, query):
    return notifications.of(db, user["id"], **query)


def mark_read(db, user, body):
    return {"marked": notifications.mark_read(db, user["id"], body.get("ids"))}
