"""Test data: users, and clients signed in through the real login route."""
import itertools

from support.app import browser
from lms import audit
from lms.accounts import users
from lms.learning import courses

PASSWORD = "correct horse battery"


def adapters(settings):
    """What a process opens for ``settings`` (storage, mailer, urls, renderer...), without a database."""
    from lms.runtime import Runtime
    return Runtime(settings, None, None)
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

_courses = itertools.count(1)


def create_course(db, **overrides):
    """A valid published course (one module, a preview lesson and a locked one) through the
    real domain function; ``overrides`` replace any authored field."""
    n = next(_courses)
    fields = {"title": f"Course {n}", "description": f"What course {n} teaches", "price": 49900,
              "status": "published", "tags": ["python"],
              "modules": [{"id": "m1", "title": "Start", "lessons": [
                  {"id": "intro", "title": "Introduction", "preview": True, "durationMin": 5,
                   "content": "Welcome aboard", "videoUrl": "https://videos.example.com/intro.mp4"},
                  {"id": "setup", "title": "Set up", "durationMin": 12, "content": "Install things"}]}]}
    return courses.create(db, {**fields, **overrides}, audit.SYSTEM)
