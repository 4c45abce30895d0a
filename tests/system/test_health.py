"""/api/health tells the truth about the database, quickly, and recovers by itself; it answers
from the background check (``lms.worker.monitoring.Readiness``), never by asking the database."""
import time

import pymongo
import pytest

from support.app import SECRET, app_with, browser
from support.database import DatabaseServer
from support.live import Service, call
from support.waits import wait_until

OUTAGE_BOUND = 2.0  # seconds from the database's end to the first 503: what a load balancer relies on


def test_healthy(client):
    body = client.get("/api/health").json
    assert body["ok"] is True and body["db"]["ok"] is True
    assert body["db"]["latencyMs"] >= 0 and body["db"]["checkedAt"].endswith("Z")


@pytest.fixture
def own_database():
    server = DatabaseServer().start()
    yield server
    server.kill()


def test_answers_come_from_the_background_check_not_from_the_request(own_database, make_settings):
    with app_with(make_settings, MONGODB_URI=own_database.uri.replace("/?", "/lms?")) as (_, app):
        client = browser(app)
        counters = pymongo.MongoClient(own_database.uri)
        commands = lambda: counters.admin.command("serverStatus")["opcounters"]["command"]  # noqa: E731
        before = commands()
        answers = [client.get("/api/health").json for _ in range(40)]
        pinged = commands() - before - 1  # the serverStatus itself counts
        counters.close()
    assert all(a["db"]["ok"] for a in answers)
    assert pinged < len(answers)  # one ping per request would be 40 at least
    assert len({a["db"]["checkedAt"] for a in answers}) < len(answers)  # answers share a check


def _first_503(url):
    """Poll health until a 503 or ``OUTAGE_BOUND`` seconds have passed; the last answer."""
    deadline = time.monotonic() + OUTAGE_BOUND
    while True:
        status, body, _ = call("GET", url + "/api/health", timeout=OUTAGE_BOUND)
        if status == 503 or time.monotonic() > deadline:
            return status, body
        time.sleep(0.02)


def test_served_health_is_503_within_two_seconds_of_a_database_kill_and_200_after(own_database, tmp_path):
    service = Service(tmp_path, MONGODB_URI=own_database.uri.replace("/?", "/lms?"), LMS_SECRET_KEY=SECRET,
                      LMS_WORKER="0").start()
    try:
        service.wait_healthy()
        own_database.kill()  # the outage starts now: no shutdown, no goodbye to the clients
        status, body = _first_503(service.url)
        assert status == 503 and body["ok"] is False and body["db"] == {"ok": False}
        assert body["error"]["code"] == "database_unavailable"

        own_database.start()  # same port
        assert wait_until(lambda: call("GET", service.url + "/api/health")[0] == 200, timeout=30)
    finally:
        service.stop()


def test_503_when_the_database_stops_and_200_when_it_returns(own_database, make_settings):
    with app_with(make_settings, MONGODB_URI=own_database.uri.replace("/?", "/lms?")) as (_, app):
        client = browser(app)
        assert client.get("/api/health").status_int == 200
        own_database.stop()

        deadline = time.monotonic() + OUTAGE_BOUND  # stop() returned: the server is gone
        while (response := client.get("/api/health", expect_errors=True)).status_int != 503:
            assert time.monotonic() < deadline, "still answering from a check older than the outage"
            time.sleep(0.02)
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
