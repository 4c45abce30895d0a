"""Sign-up, sign-in, session refresh, sign-out, password reset, profile, admin user changes."""
import secrets

import bottle

from .. import audit, auth, ratelimit, sessions, users
from ..auth import ACCESS_COOKIE, ACCESS_TTL, CSRF_COOKIE, REFRESH_COOKIE
from ..errors import Unauthenticated
from ..schema import Bool, Email, Obj, Password, Str

SIGNUP = Obj(name=Str(min=1, max=100), email=Email(), password=Password())
LOGIN = Obj(email=Email(), password=Str(min=1, max=1000, strip=False))
FORGOT = Obj(email=Email())
RESET = Obj(token=Str(min=20, max=200), password=Password())
USER_CHANGES = Obj(role=Str(choices=users.ROLES, required=False), disabled=Bool(required=False))
REFRESH_PATH = "/api/auth"


def signup(runtime, body, actor):
    _limit(runtime.db, actor, "signup-ip", actor.ip)
    user = users.create(runtime.db, **body, rounds=runtime.settings.bcrypt_rounds)
    _start_session(runtime, user)
    return {"_status": 201, "user": users.public(user)}


def login(runtime, body, actor):
    _limit(runtime.db, actor, "login-ip", actor.ip)
    _limit(runtime.db, actor, "login-email", body["email"])
    user = users.authenticate(runtime.db, body["email"], body["password"],
                              rounds=runtime.settings.bcrypt_rounds)
    _start_session(runtime, user)
    return {"user": users.public(user)}


def refresh(runtime):
    token = bottle.request.get_cookie(REFRESH_COOKIE)
    if not token:
        raise Unauthenticated("No session to refresh", code="session_expired")
    try:
        user, next_token = sessions.rotate(runtime.db, token, **_client())
    except Unauthenticated:
        _clear_cookies(runtime.settings)
        raise
    _set_cookies(runtime.settings, user, next_token, bottle.request.get_cookie(CSRF_COOKIE))
    return {"user": users.public(user)}


def logout(runtime):
    token = bottle.request.get_cookie(REFRESH_COOKIE)
    if token:
        sessions.revoke_token_family(runtime.db, token)
    _clear_cookies(runtime.settings)
    return {}


def forgot_password(runtime, body, actor):
    db = runtime.db
    _limit(db, actor, "forgot-ip", actor.ip)
    _limit(db, actor, "forgot-email", body["email"])
    users.request_password_reset(db, body["email"], reset_url=f"{runtime.settings.public_url}/reset-password")
    return {"message": "If an account exists for this e-mail, a reset link is on its way"}


def reset_password(runtime, body, actor):
    _limit(runtime.db, actor, "reset-ip", actor.ip)
    users.reset_password(runtime.db, body["token"], body["password"],
                         rounds=runtime.settings.bcrypt_rounds, actor=actor)
    _clear_cookies(runtime.settings)
    return {"message": "Your password was changed; sign in with the new one"}


def me(user):
    return {"user": user}


def update_user(db, id, body, actor):
    return {"user": users.public(users.update(db, id, body, actor))}


def _limit(db, actor, rule, key):
    """Count this request; the first one over a limit leaves an audit entry (a burst, not each)."""
    ratelimit.hit(db, rule, key, on_trip=lambda: audit.record(
        db, actor, "auth.rate_limited", "rateLimit", f"{rule}:{key}", rule=rule))


def _client():
    request = bottle.request
    return {"ip": request.environ.get("lms.client_ip"), "user_agent": request.get_header("User-Agent")}


def _start_session(runtime, user):
    token = sessions.start(runtime.db, user["_id"], **_client())
    _set_cookies(runtime.settings, user, token, None)


def _cookie_flags(settings, path="/"):
    return {"path": path, "secure": settings.cookie_secure, "samesite": settings.cookie_samesite.lower()}


def _set_cookies(settings, user, refresh_token, csrf_token):
    response = bottle.response
    response.set_cookie(ACCESS_COOKIE, auth.issue_access_token(user, settings.secret_key),
                        httponly=True, max_age=int(ACCESS_TTL.total_seconds()), **_cookie_flags(settings))
    response.set_cookie(REFRESH_COOKIE, refresh_token, httponly=True,
                        max_age=int(sessions.REFRESH_TTL.total_seconds()),
                        **_cookie_flags(settings, REFRESH_PATH))
    # Readable by scripts on purpose: the frontend echoes it in X-XSRF-TOKEN.
    response.set_cookie(CSRF_COOKIE, csrf_token or secrets.token_urlsafe(32),
                        max_age=int(sessions.REFRESH_TTL.total_seconds()), **_cookie_flags(settings))


def _clear_cookies(settings):
    response = bottle.response
    for name, path, httponly in ((ACCESS_COOKIE, "/", True), (REFRESH_COOKIE, REFRESH_PATH, True),
                                 (CSRF_COOKIE, "/", False)):
        response.set_cookie(name, "", max_age=0, expires=0, httponly=httponly,
                            **_cookie_flags(settings, path))
