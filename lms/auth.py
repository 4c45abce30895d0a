"""Who is asking: access tokens, CSRF and the role guard the route table's ``who`` drives.

Access tokens are HS256 JWTs (15 minutes) in an HttpOnly cookie. Cookie-authenticated unsafe
requests must repeat the readable ``XSRF-TOKEN`` cookie in the ``X-XSRF-TOKEN`` header (the
double-submit convention axios and Angular follow).
"""
import hmac
from datetime import timedelta

import jwt

from . import audit, users
from .db import now
from .errors import Forbidden, Unauthenticated

ACCESS_TTL = timedelta(minutes=15)
ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE = "access_token", "refresh_token", "XSRF-TOKEN"
ALLOWED = {"anyone": ("student", "instructor", "admin"), "user": ("student", "instructor", "admin"),
           "staff": ("instructor", "admin"), "admin": ("admin",)}


def issue_access_token(user, secret):
    issued = now()
    claims = {"sub": user["_id"], "role": user["role"], "iat": issued, "exp": issued + ACCESS_TTL}
    return jwt.encode(claims, secret, algorithm="HS256")


def read_access_token(token, secret):
    """The token's claims, or None when it is forged, expired or not ours."""
    try:
        return jwt.decode(token, secret, algorithms=["HS256"],
                          options={"require": ["sub", "role", "exp", "iat"]})
    except jwt.PyJWTError:
        return None


def authenticate(runtime, request, who, csrf=True):
    """The signed-in user (public shape) or None; raises when ``who`` is not satisfied.

    The user is read from the database on every request so that disabling an account or
    changing a role takes effect at once, not when the 15-minute token runs out.
    """
    token = request.get_cookie(ACCESS_COOKIE)
    claims = read_access_token(token, runtime.settings.secret_key) if token else None
    user = None
    if claims:
        found = runtime.db.users.find_one({"_id": claims["sub"]})
        if found and not found.get("disabled"):
            user = users.public(found)
    if who != "anyone":
        if user is None:
            raise Unauthenticated("Sign in to continue" if not token else "Your session has expired")
        if user["role"] not in ALLOWED[who]:
            raise Forbidden("You do not have permission to do this")
    if csrf and request.method in ("POST", "PUT", "PATCH", "DELETE") and (
            token or request.get_cookie(REFRESH_COOKIE)):
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
