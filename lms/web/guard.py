"""Who is asking: the session cookies, CSRF, device cookies, and the role guard the route table's
``who`` drives.

Cookies. ``access_token`` (the 15-minute JWT, HttpOnly, ``Path=/``) and ``refresh_token`` (HttpOnly,
``Path=/api/auth``) are host-only: with a frontend on a sibling host the page calls this host with
credentials, and no other host under the domain ever receives them. ``XSRF-TOKEN`` is readable by
scripts and, with ``LMS_COOKIE_DOMAIN``, set for that domain, so a page on ``app.example.com`` can
read what ``api.example.com`` set. Its value is also sent in an ``X-XSRF-TOKEN`` response header
whenever it is set or renewed, and as ``csrfToken`` in the sign-in answers and
``GET /api/auth/session``, for pages that cannot read the cookie. ``device`` (HttpOnly,
``Path=/api/auth``, a year) marks a browser that signed in before (``lms.accounts.devices``).

CSRF: cookie-authenticated unsafe requests must repeat the ``XSRF-TOKEN`` cookie in the
``X-XSRF-TOKEN`` header (the double-submit convention axios and Angular follow). With
``LMS_COOKIE_DOMAIN`` every host under that domain can set that cookie, so trust them all.

Every request with an access token reads its user and checks that its session (``sid``) is live:
an ended session is 401 at once, a disabled account 403 ``account_disabled``, and with
``LMS_EMAIL_VERIFICATION=required`` an unverified address is 403 ``email_unverified`` everywhere
but the account's own routes (``SELF_SERVICE``), where the owner verifies, fixes or deletes it.
"""
import hmac
import secrets
from datetime import timedelta

import bottle

from .. import audit
from ..accounts import devices, sessions, tokens, users
from ..errors import Forbidden, Unauthenticated

ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE, DEVICE_COOKIE = "access_token", "refresh_token", "XSRF-TOKEN", "device"
CSRF_HEADER = "X-XSRF-TOKEN"
REFRESH_PATH = "/api/auth"
DEVICE_TTL = timedelta(days=365)
SELF_SERVICE = ("/api/user/", "/api/auth/")
ALLOWED = {"anyone": ("student", "instructor", "admin"), "user": ("student", "instructor", "admin"),
           "staff": ("instructor", "admin"), "admin": ("admin",)}
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def refusals(who, path):
    """What the guard may answer a route (``"<status> <code>"``), for its description."""
    if who == "anyone":
        return ()
    found = ["401 unauthenticated", "403 account_disabled"]
    if not path.startswith(SELF_SERVICE):
        found.append("403 email_unverified")
    if who != "user":
        found.append("403 forbidden")
    return tuple(found)


def authenticate(db, settings, request, who, csrf=True):
    """The signed-in user (public shape) or None; raises when ``who`` is not satisfied."""
    token = request.get_cookie(ACCESS_COOKIE)
    claims = tokens.read(token, settings.secret_key) if token else None
    found = db.users.find_one({"_id": claims["sub"]}) if claims else None
    live = found is not None and not found.get("disabled") and sessions.live(db, claims["sid"])
    unverified = live and settings.email_verification == "required" and not found.get("emailVerified") \
        and not request.path.startswith(SELF_SERVICE)
    user = users.public(found) if live and not unverified else None  # public routes: an unverified user is anonymous
    if live:
        request.environ["lms.session_id"] = claims["sid"]
        request.environ["lms.session_expires"] = claims["exp"]
    if who != "anyone":
        if found and found.get("disabled"):
            raise Forbidden("This account is disabled", code="account_disabled")
        if unverified:
            raise Forbidden("Confirm your e-mail address first: open the link we mailed you", code="email_unverified")
        if user is None:
            raise Unauthenticated("Your session has ended; sign in again" if token else "Sign in to continue")
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


def session_id(request):
    """The session family of the signed-in request (None when anonymous)."""
    return request.environ.get("lms.session_id")


# --- sign-in limits: which browser is asking (ratelimit rule keys) -------------------------

def known_device(supplied):
    """For ``login-device``: this browser's device entry for the e-mail being signed in to, if any."""
    return devices.recognised(supplied["settings"].secret_key, bottle.request.get_cookie(DEVICE_COOKIE),
                              supplied["body"]["email"])


def unknown_device(supplied):
    """For ``login-email``: the e-mail, when this browser has not signed in to it before."""
    return None if known_device(supplied) else supplied["body"]["email"]


# --- the cookies ----------------------------------------------------------------------------

def start_session(db, settings, user):
    """A new session family for ``user``: store it, set its cookies (and the device cookie) on the
    response; returns the CSRF token."""
    issued = sessions.start(db, user["_id"], **client(bottle.request))
    device = devices.remember(settings.secret_key, bottle.request.get_cookie(DEVICE_COOKIE), user["email"])
    bottle.response.set_cookie(DEVICE_COOKIE, device, httponly=True, max_age=int(DEVICE_TTL.total_seconds()),
                               **_flags(settings, REFRESH_PATH))
    return set_cookies(settings, user, issued, None)


def set_cookies(settings, user, issued, csrf_token):
    """Set the session's cookies (``issued``: ``sessions.Issued``); returns the CSRF token."""
    response = bottle.response
    response.set_cookie(ACCESS_COOKIE, tokens.issue(user, issued.family, settings.secret_key), httponly=True,
                        max_age=int(tokens.ACCESS_TTL.total_seconds()), **_flags(settings))
    response.set_cookie(REFRESH_COOKIE, issued.token, httponly=True,
                        max_age=int(sessions.REFRESH_TTL.total_seconds()), **_flags(settings, REFRESH_PATH))
    return set_csrf(settings, csrf_token or secrets.token_urlsafe(32))


def set_csrf(settings, token):
    # Readable by scripts on purpose: the frontend echoes it in X-XSRF-TOKEN.
    bottle.response.set_cookie(CSRF_COOKIE, token, max_age=int(sessions.REFRESH_TTL.total_seconds()),
                               **_flags(settings, domain=settings.cookie_domain))
    bottle.response.set_header(CSRF_HEADER, token)
    return token


def csrf_token(settings, request):
    """The request's CSRF token, or a new one set on the response (a page bootstrapping)."""
    return request.get_cookie(CSRF_COOKIE) or set_csrf(settings, secrets.token_urlsafe(32))


def clear_cookies(settings):
    response = bottle.response
    for name, path, httponly, domain in ((ACCESS_COOKIE, "/", True, ""), (REFRESH_COOKIE, REFRESH_PATH, True, ""),
                                         (CSRF_COOKIE, "/", False, settings.cookie_domain)):
        response.set_cookie(name, "", max_age=0, expires=0, httponly=httponly, **_flags(settings, path, domain))


def _flags(settings, path="/", domain=""):
    flags = {"path": path, "secure": settings.cookie_secure, "samesite": settings.cookie_samesite.lower()}
    if domain:
        flags["domain"] = domain
    return flags
