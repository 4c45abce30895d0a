"""What an operator sees: health numbers, error lines joined to their request, Sentry scrubbing."""
import json
import logging
import os
import socket
import sys
import threading
from datetime import datetime, timedelta, timezone

import pymongo
import pytest

import lms
from lms import logs
from lms.adapters.mail import queue as mailqueue
from lms.adapters.mail.messages import Message
from lms.db import new_id
from support import factories
from support.app import app_with, browser
from support.database import DatabaseServer
from support.live import call
from support.waits import health_after, wait_until


class Lines(logging.Handler):
    """Log records formatted by the service's own JSON formatter, as they would reach stdout."""

    def __init__(self):
        super().__init__()
        self.setFormatter(logs.JsonFormatter())
        self.lines = []

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def log_lines():
    handler, root = Lines(), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler.lines
    root.removeHandler(handler)
    root.setLevel(level)


# --- /api/health ------------------------------------------------------------------------

def test_health_reports_queue_depths_and_the_oldest_waiting_ages(signed_in, db):
    now = datetime.now(timezone.utc)
    ago = lambda seconds: now - timedelta(seconds=seconds)
    course = new_id()
    db.certificates.insert_many([factories.certificate(new_id(), course, status=status, at=ago(seconds))
                                 for status, seconds in (("pending", 120), ("pending", 30), ("rendering", 300),
                                                         ("failed", 9000), ("active", 99999))])
    for to in ("a@example.com", "b@example.com", "c@example.com"):
        mailqueue.enqueue(db, to, Message("Hello", "text"))
    db.mails.update_one({"to": "a@example.com"}, {"$set": {"createdAt": ago(60)}})
    db.mails.update_one({"to": "c@example.com"}, {"$set": {"status": "failed"}})
    db.mails.insert_one({"_id": new_id(), "to": "d@example.com", "status": "sent", "createdAt": ago(5000)})
    db.workers.insert_one({"_id": "elsewhere:1:abc", "heartbeatAt": ago(7), "pid": 1})

    body = health_after(signed_in("instructor"), datetime.now(timezone.utc)).json
    certificates, mails = body["queues"]["certificates"], body["queues"]["mails"]
    assert (certificates["pending"], certificates["rendering"], certificates["failed"], certificates["depth"]) == (
        2, 1, 1, 3)
    assert 300 <= certificates["oldestPendingAgeSeconds"] < 310  # the rendering one, 5 minutes old
    assert (mails["queued"], mails["sending"], mails["failed"], mails["depth"]) == (2, 0, 1, 2)
    assert 60 <= mails["oldestQueuedAgeSeconds"] < 70
    heartbeat = body["worker"]["heartbeat"]
    assert 7 <= heartbeat["ageSeconds"] < 17 and heartbeat["alive"] is True
    assert body["db"]["latencyMs"] >= 0


def test_health_with_empty_queues_and_no_worker(signed_in):
    body = signed_in("admin").get("/api/health").json
    assert body["queues"]["certificates"] == {"pending": 0, "rendering": 0, "failed": 0, "depth": 0,
                                              "oldestPendingAgeSeconds": None}
    assert body["queues"]["mails"]["oldestQueuedAgeSeconds"] is None
    assert body["worker"] == {"running": False, "heartbeat": None}


def test_a_stale_heartbeat_is_reported_dead_without_failing_the_check(client, signed_in, db):
    written = datetime.now(timezone.utc)
    db.workers.insert_one({"_id": "gone:1:abc", "heartbeatAt": written - timedelta(minutes=5)})
    response = health_after(signed_in("admin"), written)
    assert response.status_int == 200 and response.json["worker"]["heartbeat"]["alive"] is False
    assert client.get("/api/health").json["worker"] == {"running": False, "alive": False}


def test_anyone_sees_whether_it_works_and_only_staff_see_where_and_what_runs(client, signed_in, db):
    written = datetime.now(timezone.utc)
    db.workers.insert_one({"_id": "web-7:4242:abc", "heartbeatAt": written, "pid": 4242})
    public = health_after(client, written).json
    assert set(public) == {"ok", "db", "worker"} and public["worker"] == {"running": False, "alive": True}
    assert set(public["db"]) == {"ok", "latencyMs", "checkedAt"}
    assert "web-7" not in json.dumps(public) and "4242" not in json.dumps(public)
    assert set(signed_in("student").get("/api/health").json) == {"ok", "db", "worker"}
    staff = signed_in("instructor").get("/api/health").json
    assert {"queues", "host", "pid", "versions"} <= set(staff)
    assert staff["pid"] == os.getpid() and staff["host"] == socket.gethostname()
    assert staff["versions"]["lms"] == lms.__version__ and staff["versions"]["database"]
    assert staff["worker"]["heartbeat"]["alive"] is True


# --- error lines carry their request id ---------------------------------------------------

def test_an_unexpected_error_is_one_json_line_with_the_request_id_and_user(app, signed_in, log_lines):
    def broken():
        raise KeyError("a bug")
    app.bottle.route("/api/test-broken", "GET", broken, who="user")
    admin = signed_in("admin")
    response = admin.get("/api/test-broken", headers={"X-Request-Id": "trace-me-1234"}, status=500)
    assert response.json == {"ok": False, "error": {"code": "internal_error", "message": "Internal server error"}}
    assert "a bug" not in response.text
    [error] = [line for line in log_lines if line["level"] == "error"]
    assert error["requestId"] == "trace-me-1234" and error["userId"] == admin.user["_id"]
    assert error["logger"] == "lms.web" and "KeyError: 'a bug'" in error["exception"]
    access = [line for line in log_lines if line["logger"] == "lms.access"][-1]
    assert (access["requestId"], access["status"]) == ("trace-me-1234", 500)


def test_a_database_outage_is_logged_with_the_request_id(make_settings, log_lines):
    server = DatabaseServer().start()

    def needs_the_database(db):
        with pymongo.timeout(1):  # one bounded attempt: server selection and a retry would only be slower
            return {"courses": db.courses.count_documents({})}
    with app_with(make_settings, MONGODB_URI=server.uri.replace("/?", "/lms?")) as (_, app):
        app.bottle.route("/api/test-db", "GET", needs_the_database, who="anyone")
        server.stop()
        response = browser(app).get("/api/test-db", headers={"X-Request-Id": "outage-12345678"}, status=503)
    assert response.json["error"]["code"] == "database_unavailable"
    [error] = [line for line in log_lines if line["logger"] == "lms.web"]
    assert error["requestId"] == "outage-12345678" and "database unavailable" in error["message"]


def test_lines_outside_a_request_have_no_request_id():
    result = {}

    def outside():  # a fresh thread, like the worker's greenlet: no request is bound
        result["line"] = json.loads(logs.JsonFormatter().format(
            logging.LogRecord("lms.worker", logging.WARNING, __file__, 1, "tick", (), None)))
    thread = threading.Thread(target=outside)
    thread.start()
    thread.join()
    assert result["line"]["message"] == "tick" and "requestId" not in result["line"]


# --- Sentry -----------------------------------------------------------------------------

JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI2NTAwMDAwMDAwMDAwMDAwMDAwMDAwMDEifQ.c2lnbmF0dXJl"


def sentry_event():
    """An event as sentry-sdk builds it for an error during a request (bottle integration)."""
    return {
        "event_id": "f" * 32, "level": "error", "platform": "python",
        "logentry": {"message": "unhandled error (request %s)", "params": ["req-1"]},
        "exception": {"values": [{"type": "KeyError", "value": "'a bug'", "stacktrace": {"frames": [
            {"filename": "lms/web.py", "function": "handler", "lineno": 90,
             "vars": {"password": "hunter2-hunter2", "body": {"email": "a@example.com", "password": "hunter2"},
                      "course_id": "650000000000000000000001"}}]}}]},
        "request": {"url": "https://lms.example.com/api/auth/login", "method": "POST",
                    "query_string": "page=2&token=abc123&access_token=xyz",
                    "cookies": {"access_token": JWT, "refresh_token": "r" * 43, "XSRF-TOKEN": "x" * 43},
                    "headers": {"Cookie": f"access_token={JWT}", "Authorization": f"Bearer {JWT}",
                                "X-Xsrf-Token": "x" * 43, "User-Agent": "Mozilla/5.0", "X-Request-Id": "req-1"},
                    "data": {"email": "a@example.com", "password": "hunter2", "name": "Amit"},
                    "env": {"REMOTE_ADDR": "203.0.113.7"}},
        "user": {"id": "650000000000000000000001", "email": "a@example.com", "ip_address": "203.0.113.7",
                 "username": "amit"},
        "breadcrumbs": {"values": [{"category": "log", "message": f"refreshed with {JWT}",
                                    "data": {"refresh_token": "r" * 43, "path": "/api/auth/refresh"}}]},
        "extra": {"sys.argv": ["lms.py"], "razorpay_signature": "abc", "smtp_password": "p"},
        "contexts": {"runtime": {"name": "CPython", "version": "3.11"}},
    }


def test_the_scrubber_keeps_the_user_id_and_drops_cookies_tokens_passwords_and_personal_data():
    event = logs.scrub(sentry_event())
    text = json.dumps(event)
    for secret in ("hunter2", JWT, "r" * 43, "x" * 43, "abc123", "xyz", "a@example.com", "203.0.113.7",
                   "amit", "Amit"):
        assert secret not in text, secret
    assert event["user"] == {"id": "650000000000000000000001"}
    assert set(event["request"]) == {"url", "method", "query_string", "headers"}
    headers = event["request"]["headers"]
    assert headers["Cookie"] == headers["Authorization"] == headers["X-Xsrf-Token"] == logs.FILTERED
    assert (headers["User-Agent"], headers["X-Request-Id"]) == ("Mozilla/5.0", "req-1")
    assert event["request"]["query_string"] == "page=2&token=%5BFiltered%5D&access_token=%5BFiltered%5D"
    frame = event["exception"]["values"][0]["stacktrace"]["frames"][0]
    assert "vars" not in frame and (frame["function"], frame["lineno"]) == ("handler", 90)
    crumb = event["breadcrumbs"]["values"][0]
    assert crumb["message"] == f"refreshed with {logs.FILTERED}" and crumb["data"]["path"] == "/api/auth/refresh"
    assert event["extra"]["razorpay_signature"] == event["extra"]["smtp_password"] == logs.FILTERED
    assert event["extra"]["sys.argv"] == ["lms.py"] and event["logentry"]["params"] == ["req-1"]
    assert event["exception"]["values"][0]["value"] == "'a bug'"


def test_the_scrubber_tags_events_with_the_request_and_its_user(app, signed_in):
    app.bottle.route("/api/test-scrub", "GET", lambda: logs.scrub({"message": "boom"}), who="user")
    student = signed_in("student")
    event = student.get("/api/test-scrub", headers={"X-Request-Id": "sentry-req-1"}).json
    assert event["tags"] == {"request_id": "sentry-req-1"}
    assert event["user"] == {"id": student.user["_id"]}


def test_a_dsn_without_sentry_installed_only_logs_a_warning(make_settings, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "sentry_sdk", None)  # what `import` sees when it is not installed
    with caplog.at_level(logging.WARNING, logger="lms.logs"):
        assert logs.report_errors(make_settings(SENTRY_DSN="https://key@o1.ingest.sentry.io/1")) is False
    assert "sentry-sdk is not installed" in caplog.text


def test_no_dsn_no_error_reporting(make_settings, caplog):
    with caplog.at_level(logging.WARNING, logger="lms.logs"):
        assert logs.report_errors(make_settings()) is False
    assert caplog.text == ""


def test_an_unhandled_error_reaches_sentry_once_with_its_request_id_and_no_secret(live_server, db, sentry_double):
    service = live_server(SENTRY_DSN=sentry_double.dsn)
    user = factories.create_user(db)
    db.users.update_one({"_id": user["_id"]}, {"$unset": {"createdAt": ""}})  # broken data: signing in fails
    secrets = {"password": user["password"], "cookie": "s3ss10n-c00k1e-value", "bearer": "b34r3r-t0k3n-value",
               "token": JWT, "xsrf": "x5rf-t0k3n-value"}
    status, answer, headers = call(
        "POST", service.url + "/api/auth/login", {"email": user["email"], "password": user["password"]},
        {"Cookie": f"access_token={JWT}; refresh_token={secrets['cookie']}; XSRF-TOKEN={secrets['xsrf']}",
         "Authorization": f"Bearer {secrets['bearer']}", "X-XSRF-TOKEN": secrets["xsrf"],
         "X-Request-Id": "sentry-live-0001"})
    assert (status, answer["error"]["code"]) == (500, "internal_error")
    assert wait_until(lambda: sentry_double.events, timeout=20)
    service.stop()  # the SDK sends whatever it still holds as the process exits
    [event] = sentry_double.events
    assert event["tags"]["request_id"] == headers["X-Request-Id"] == "sentry-live-0001"
    assert event["level"] == "error" and event["exception"]["values"][-1]["type"] == "ValueError"
    received = sentry_double.received().decode()
    for name, secret in secrets.items():
        assert secret not in received, name
    assert user["email"] not in received
