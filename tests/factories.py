"""Test data: users, and clients signed in through the real login route."""
import itertools

from conftest import browser
from lms import users

PASSWORD = "correct horse battery"
_numbers = itertools.count(1)


def create_user(db, role="student", *, name=None, email=None, password=PASSWORD, rounds=4):
    n = next(_numbers)
    user = users.create(db, name=name or f"{role.title()} {n}", email=email or f"{role}{n}@example.com",
                        password=password, role=role, rounds=rounds)
    return {**user, "password": password}


def sign_in(app, user):
    """A browser-like client signed in as ``user`` that echoes the CSRF cookie, as a SPA does."""
    client = browser(app)
    client.post_json("/api/auth/login", {"email": user["email"], "password": user["password"]})
    client.extra_environ["HTTP_X_XSRF_TOKEN"] = client.cookies["XSRF-TOKEN"]
    client.user = user
    return client
