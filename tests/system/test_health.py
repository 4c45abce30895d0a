"""/api/health tells the truth about the database, quickly, and recovers by itself."""
import time

import pytest

from support.app import app_with, browser
from support.database import DatabaseServer
from support.waits import wait_until


def test_healthy(client):
    body = client.get("/api/health").json
    assert body["ok"] is True and body["db"]["ok"] is True
    assert body["db"]["latencyMs"] >= 0


@pytest.fixture
def own_database():
    server = DatabaseServer().start()
    yield server
    server.kill()


def test_503_within_seconds_when_the_database_stops_and_200_when_it_returns(own_database, make_settings):
    with app_with(make_settings, MONGODB_URI=own_database.uri.replace("/?", "/lms?")) as (_, app):
        client = browser(app)
        assert client.get("/api/health").status_int == 200
        own_database.stop()

        started = time.monotonic()
        response = client.get("/api/health", status=503)
        assert time.monotonic() - started < 5
        assert response.json["ok"] is False and response.json["db"] == {"ok": False}

        own_database.start()
        assert wait_until(lambda: client.get("/api/health", expect_errors=True).status_int == 200, timeout=30)


def test_requests_needing_a_missing_database_get_a_json_503(own_database, make_settings):
    with app_with(make_settings, MONGODB_URI=own_database.uri.replace("/?", "/lms?")) as (_, app):
        client = browser(app)
        own_database.stop()
        response = client.get("/api/openapi.json")  # needs no database: still served
        assert response.status_int == 200
        response = client.post_json("/api/auth/login", {"email": "a@example.com", "password": "whatever1"},
                                    status=503)
        assert response.json["error"]["code"] == "database_unavailable"
        assert response.headers["Retry-After"] == "5"
        assert "Traceback" not in response.text
