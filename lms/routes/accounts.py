"""Sign-up, sign-in, session refresh, sign-out, password reset; the user's profile and
notifications; admin changes to users."""
import bottle

from ..accounts import notifications, resets, sessions, users
from ..errors import Unauthenticated
from ..schema import PAGE, Bool, Email, Id, List, Obj, Password, Query, Str
from ..web import guard

SIGNUP = Obj(name=Str(min=1, max=100), email=Email(), password=Password())
LOGIN = Obj(email=Email(), password=Str(min=1, max=1000, strip=False))
FORGOT = Obj(email=Email())
RESET = Obj(token=Str(min=20, max=200), password=Password())
USER_CHANGES = Obj(role=Str(choices=users.ROLES, required=False), disabled=Bool(required=False))
NOTIFICATIONS = Query(unread=Bool(required=False, description="true: only unread; false: only read"), **PAGE)
MARK_READ = Obj(ids=List(Id(), min=1, max=100, required=False,
                         description="The notifications to mark read; all of them when absent"))


def signup(db, settings, body):
    user = users.create(db, **body, rounds=settings.bcrypt_rounds)
    guard.start_session(db, settings, user)
    return {"_status": 201, "user": users.public(user)}


def login(db, settings, body):
    user = users.authenticate(db, body["email"], body["password"], rounds=settings.bcrypt_rounds)
    guard.start_session(db, settings, user)
    return {"user": users.public(user)}


def refresh(db, settings):
    request = bottle.request
    token = request.get_cookie(guard.REFRESH_COOKIE)
    if not token:
        raise Unauthenticated("No session to refresh", code="session_expired")
    try:
        user, next_token = sessions.rotate(db, token, **guard.client(request))
    except Unauthenticated:
        guard.clear_cookies(settings)
        raise
    guard.set_cookies(settings, user, next_token, request.get_cookie(guard.CSRF_COOKIE))
    return {"user": users.public(user)}


def logout(db, settings):
    token = bottle.request.get_cookie(guard.REFRESH_COOKIE)
    if token:
        sessions.revoke_token_family(db, token)
    guard.clear_cookies(settings)
    return {}


def forgot_password(db, urls, body):
    resets.request(db, body["email"], lambda token: urls.frontend("reset-password", token=token))
    return {"message": "If an account exists for this e-mail, a reset link is on its way"}


def reset_password(db, settings, body, actor):
    resets.reset(db, body["token"], body["password"], rounds=settings.bcrypt_rounds, actor=actor)
    guard.clear_cookies(settings)
    return {"message": "Your password was changed; sign in with the new one"}


def me(user):
    return {"user": user}


def update_user(db, id, body, actor):
    return {"user": users.public(users.update(db, id, body, actor))}


def my_notifications(db, user, query):
    return notifications.of(db, user["id"], **query)


def mark_read(db, user, body):
    return {"marked": notifications.mark_read(db, user["id"], body.get("ids"))}
