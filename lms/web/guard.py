"""Who is asking: the session cookies, CSRF, and the role guard the route table's ``who`` drives.

Access tokens (``lms.accounts.tokens``) travel in an HttpOnly cookie; the refresh token in
another, scoped to ``/api/auth``. Cookie-authenticated unsafe requests must repeat the readable
``XSRF-TOKEN`` cookie in the ``X-XSRF-TOKEN`` header (the double-submit convention axios and
Angular follow).
"""
import hmac
import secrets

import bottle

from .. import audit
from ..accounts import sessions, tokens, users
from ..errors import Forbidden, Unauthenticated

ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE = "access_token", "refresh_token", "XSRF-TOKEN"
REFRESH_PATH = "/api/auth"
ALLOWED = {"anyone": ("student", "instructor", "admin"), "user": ("student", "instructor", "admin"),
           "staff": ("instructor", "admin"), "admin": ("admin",)}
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def authenticate(db, secret, request, who, csrf=True):
    """The signed-in user (public shape) or None; raises when ``who`` is not satisfied.

    The user is read from the database on every request so that disabling an account or
    changing a role takes effect at once, not when the 15-minute token runs out.
    """
    token = request.get_cookie(ACCESS_COOKIE)
    claims = tokens.read(token, secret) if token else None
    user = None
    if claims:
        found = db.users.find_one({"_id": claims["sub"]})
        if found and not found.get("disabled"):
            user = users.public(found)
            request.environ["lms.session_expires"] = claims["exp"]
    if who != "anyone":
        if user is None:
            raise Unauthenticated("Sign in to continue" if not token else "Your session has expired")
        if user["role"] not in ALLOWED[who]:
            raise Forbidden("You do not have permission to do this")
    if csrf and request.method in UNSAFE_METHODS and (token or request.get_cookie(REFRESH_COOKIE)):
        check_csrf(request)
    return user


def check_csrf(request):
    cookie = request.get_cookie(CSRF_COOKIE) or ""
    # Straight from the environ: Bottle's get_header fails on bytes that are not UTF-8.
    header = request.environ.get("HTTP_X_XSRF_TOKEN", "")
    if not cookie or not hmac.compare_digest(cookie.encode(), header.encode()):
        raise Forbidden("Missing or wrong X-XSRF-TOKEN header", code="csrf_failed")


def actor(user, request):
    """The audit Actor for this request."""
    return audit.Actor(user["id"] if user else "anonymous", user["role"] if user else "anonymous",
                       request.environ.get("lms.client_ip"), request.environ.get("lms.request_id"))


def client(request):
    """Where a session is started from, for the user's list of sessions."""
    return {"ip": request.environ.get("lms.client_ip"), "user_agent": request.get_header("User-Agent")}


# --- the cookies ----------------------------------------------------------------------------

def start_session(db, settings, user):
    """A new session family for ``user``: store it and set its cookies on the response."""
    token = sessions.start(db, user["_id"], **client(bottle.request))
    set_cookies(settings, user, token, None)


def set_cookies(settings, user, refresh_token, csrf_token):
    response = bottle.response
    response.set_cookie(ACCESS_COOKIE, tokens.issue(user, settings.secret_key), httponly=True,
                        max_age=int(tokens.ACCESS_TTL.total_seconds()), **_flags(settings))
    response.set_cookie(REFRESH_COOKIE, refresh_token, httponly=True,
                        max_age=int(sessions.REFRESH_TTL.total_seconds()), **_flags(settings, REFRESH_PATH))
    # Readable by scripts on purpose: the frontend echoes it in X-XSRF-TOKEN.
    response.set_cookie(CSRF_COOKIE, csrf_token or secrets.token_urlsafe(32),
                        max_age=int(sessions.REFRESH_TTL.total_seconds()), **_flags(settings))


def clear_cookies(settings):
    response = bottle.response
    for name, path, httponly in ((ACCESS_COOKIE, "/", True), (REFRESH_COOKIE, REFRESH_PATH, True),
                                 (CSRF_COOKIE, "/", False)):
        response.set_cookie(name, "", max_age=0, expires=0, httponly=httponly, **_flags(settings, path))


def _flags(settings, path="/"):
    return {"path": path, "secure": settings.cookie_secure, "samesite": settings.cookie_samesite.lower()}
