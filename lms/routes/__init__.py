"""The route table: every URL of the service on one screen.

``who``: anyone · user (signed in) · staff (instructor or admin) · admin. The app registers
its routes from this list, the guard reads ``who`` from it, ``/api/openapi.json`` is built
from it and the tests walk it, so none of them can drift from the others.
"""
from dataclasses import dataclass, field

from . import (accounts, admin, catalog, certificates, credentials, learning, payments, submissions,
               system)


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # Bottle syntax: /api/courses/<slug>
    handler: object
    who: str
    summary: str
    body: object = None  # lms.schema.Obj for JSON bodies
    query: object = None  # lms.schema.Obj for query strings
    csrf: bool = True  # cookie-authenticated unsafe requests must carry X-XSRF-TOKEN
    cache: str = None  # public GET: answers cached for a few seconds under this namespace (lms.cache)
    invalidates: tuple = ()  # a successful call drops these cache namespaces
    media: tuple = ("application/json",)  # what a success may be answered in
    schema: dict = None  # the success body's JSON schema when it is not the {"ok": true, ...} envelope
    tags: tuple = field(default=())


R = Route
ROUTES = [
    R("GET", "/api/health", system.health, "anyone", "Service and dependency status"),
    R("GET", "/api/openapi.json", system.openapi, "anyone", "This API description"),

    R("POST", "/api/auth/signup", accounts.signup, "anyone", "Create an account and sign in",
      body=accounts.SIGNUP, csrf=False),
    R("POST", "/api/auth/login", accounts.login, "anyone", "Sign in", body=accounts.LOGIN, csrf=False),
    R("POST", "/api/auth/refresh", accounts.refresh, "anyone", "Rotate the session cookies"),
    R("POST", "/api/auth/logout", accounts.logout, "anyone", "End the session, clear the cookies"),
    R("POST", "/api/auth/forgot-password", accounts.forgot_password, "anyone",
      "E-mail a password reset link", body=accounts.FORGOT, csrf=False),
    R("POST", "/api/auth/reset-password", accounts.reset_password, "anyone",
      "Set a new password with a reset link's token", body=accounts.RESET, csrf=False),
    R("GET", "/api/user/me", accounts.me, "user", "The signed-in user"),
    R("PATCH", "/api/admin/users/<id>", accounts.update_user, "admin", "Change a user's role or disable them",
      body=accounts.USER_CHANGES),
    *[R(m, p, h, w, s, **kw) for area in (catalog, learning, submissions, payments, certificates, credentials, admin)
      for m, p, h, w, s, kw in area.ROUTES],
]
