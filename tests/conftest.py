"""Test harness: a real database server per session, a clean database per test.

The server is SecantusDB's ``secantusd-py`` on ``:memory:`` storage, started once for the
session, unless ``LMS_TEST_MONGODB_URI`` names a real MongoDB to use instead. Each test gets its
own database name (dropped afterwards), the app through its real WSGI stack (``client``), and
helpers that sign in through the real routes.
"""
import os
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit, urlunsplit
from pathlib import Path

import pymongo
import pytest
import webtest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lms import db as database  # noqa: E402
from lms.web.app import create_app  # noqa: E402
from lms.config import Settings  # noqa: E402
from lms.runtime import Runtime  # noqa: E402

SECRET = "test-secret-key-0123456789-abcdefghijklmnop"


class DatabaseServer:
    """A secantusd-py process on a loopback port; stop() and start() keep the port."""

    def __init__(self, storage=":memory:"):
        self.port = database.free_port()
        self.storage = storage
        self.process = None

    @property
    def uri(self):
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self):
        exe = str(Path(sys.executable).parent / "secantusd-py")
        self.process = subprocess.Popen(
            [exe, "--host", "127.0.0.1", "--port", str(self.port), "--storage-path", self.storage,
             "--log-level", "ERROR"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        database.connect(self.uri, wait=30).close()
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)


@pytest.fixture(scope="session")
def mongo_uri():
    """Base URI of the database server the suite talks to (no database name)."""
    given = os.environ.get("LMS_TEST_MONGODB_URI")
    if given:
        yield given
        return
    server = DatabaseServer().start()
    yield server.uri
    server.stop()


def with_database(uri, name):
    """``uri`` with its database name replaced by ``name``."""
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture
def test_env(mongo_uri, tmp_path):
    """The environment of this test's service: a private database and data dir."""
    name = f"lms_test_{uuid.uuid4().hex[:12]}"
    yield {"MONGODB_URI": with_database(mongo_uri, name), "LMS_DATA_DIR": str(tmp_path / "data"),
           "LMS_SECRET_KEY": SECRET, "LMS_BCRYPT_ROUNDS": "4", "LMS_WORKER": "0",
           "LMS_PUBLIC_URL": "https://lms.test"}
    client = pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=5000)
    client.drop_database(name)
    client.close()


@pytest.fixture
def make_settings(test_env):
    """Settings for this test; keyword arguments override environment variables."""
    return lambda **env: Settings.from_env({**test_env, **env})


@pytest.fixture
def live_server(test_env, tmp_path):
    """Start the real service (``python lms.py serve``) on this test's database; for races
    between real requests over real sockets."""
    from processes import Service
    started = []

    def start(**env):
        service = Service(tmp_path / f"live{len(started)}", **{**test_env, **env}).start()
        started.append(service)
        service.wait_healthy()
        return service

    yield start
    for service in started:
        service.stop()


@pytest.fixture
def settings(make_settings):
    return make_settings()


@pytest.fixture
def runtime(settings):
    runtime = Runtime.open(settings)
    yield runtime
    runtime.close()


@pytest.fixture
def db(runtime):
    return runtime.db


@pytest.fixture
def app(runtime):
    return create_app(runtime)


def browser(app):
    """A webtest client that behaves like a browser on https://lms.test (Secure cookies work)."""
    return webtest.TestApp(app, extra_environ={"wsgi.url_scheme": "https", "HTTP_HOST": "lms.test",
                                               "REMOTE_ADDR": "203.0.113.7"})


@pytest.fixture
def client(app):
    return browser(app)


def wait_until(predicate, timeout=15.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@pytest.fixture
def signed_in(app, db):
    """``signed_in("admin")`` -> a client signed in as a new user with that role."""
    from factories import create_user, sign_in
    return lambda role="student", **fields: sign_in(app, create_user(db, role, **fields))
