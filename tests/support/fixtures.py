"""The suite's fixtures: a real database server per session, a clean database per test.

The server is SecantusDB's ``secantusd-py`` on ``:memory:`` storage, started once for the
session, unless ``LMS_TEST_MONGODB_URI`` names a real MongoDB to use instead. Each test gets its
own database name (dropped afterwards), the app through its real WSGI stack (``client``), and
clients signed in through the real routes (``signed_in``).
"""
import os
import uuid

import pymongo
import pytest

from lms.config import Settings
from lms.runtime import Runtime
from support.app import SECRET, browser, served
from support.database import DatabaseServer, with_database
from support.factories import create_user, sign_in
from support.live import Service


@pytest.fixture(scope="session")
def mongo_uri():
    """Base URI of the database server the suite talks to (no database name)."""
    given = os.environ.get("LMS_TEST_MONGODB_URI")
    if given:
        yield given
        return
    server = DatabaseServer().start()
    yield server.uri
    server.kill()


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
    return served(runtime)


@pytest.fixture
def client(app):
    return browser(app)


@pytest.fixture
def signed_in(app, db):
    """``signed_in("admin")`` -> a client signed in as a new user with that role."""
    return lambda role="student", **fields: sign_in(app, create_user(db, role, **fields))
