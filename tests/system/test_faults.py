"""Fault drills: the database going away mid-traffic, a missing renderer, a failing mail server,
and SIGTERM while requests are in flight. Each ends with everything recovered and nothing lost."""
import signal
import threading
import time
from datetime import timedelta

from lms.adapters.mail import open_mailer, queue as mailqueue
from lms.db import now
from support.app import SECRET
from support.certificates import drain
from support.database import DatabaseServer
from support.doubles.smtp import SmtpDouble
from support.factories import pending_certificate
from support.live import Service, alive, call
from support.waits import wait_until


def test_a_database_outage_mid_traffic_is_503_quickly_and_heals_by_itself(tmp_path):
    database = DatabaseServer(storage=str(tmp_path / "db")).start()
    uri = database.uri.replace("/?", "/lms?")
    service = Service(tmp_path / "app", MONGODB_URI=uri, LMS_SECRET_KEY=SECRET, LMS_WORKER="1").start()
    try:
        service.wait_healthy()
        body = {"name": "Before", "email": "before@example.com", "password": "not-a-common-one"}
        assert call("POST", service.url + "/api/auth/signup", body)[0] == 201

        database.stop()
        started = time.monotonic()
        status, answer, headers = call("POST", service.url + "/api/auth/login",
                                       {"email": body["email"], "password": body["password"]})
        assert status == 503 and answer["error"]["code"] == "database_unavailable"
        assert headers["Retry-After"] and time.monotonic() - started < 5
        # Health answers from a check made in the background, at most a second or two old.
        status, health, _ = wait_until(lambda: (a := call("GET", service.url + "/api/health"))[0] == 503 and a,
                                       timeout=2, interval=0.05) or (None, None, None)
        assert status == 503 and health["db"] == {"ok": False}

        database.start()  # same port, same files
        assert wait_until(lambda: call("GET", service.url + "/api/health")[0] == 200, timeout=30)
        status, answer, _ = call("POST", service.url + "/api/auth/login",
                                 {"email": body["email"], "password": body["password"]})
        assert status == 200 and answer["user"]["name"] == "Before"  # nothing lost
        assert call("POST", service.url + "/api/auth/signup", {**body, "email": "after@example.com"})[0] == 201
        assert service.process.poll() is None  # the worker backed off instead of dying
    finally:
        service.stop()
        database.kill()


def test_sigterm_lets_in_flight_requests_finish_and_stops_the_database_cleanly(tmp_path):
    service = Service(tmp_path, LMS_BCRYPT_ROUNDS="12").start()
    service.wait_healthy()
    body = {"name": "Slow", "email": "slow@example.com", "password": "not-a-common-one"}
    assert call("POST", service.url + "/api/auth/signup", body)[0] == 201
    database_pid = service.embedded_state()["pid"]
    answers = []
    logins = [threading.Thread(target=lambda: answers.append(call(
        "POST", service.url + "/api/auth/login", {"email": body["email"], "password": body["password"]})[0]))
        for _ in range(4)]
    for thread in logins:
        thread.start()
    time.sleep(0.1)  # the logins are hashing (about 0.3 s each at 12 rounds)
    service.signal(signal.SIGTERM)
    for thread in logins:
        thread.join()
    assert answers == [200] * 4
    assert service.process.wait(30) == 0
    assert not alive(database_pid)
    assert "stopped" in service.stdout


def test_a_missing_renderer_leaves_certificates_waiting_then_they_are_issued(db, settings, tmp_path, monkeypatch):
    cert = pending_certificate(db, settings)
    with monkeypatch.context() as m:
        m.setenv("PATH", str(tmp_path))  # no wkhtmltopdf anywhere
        assert drain(db, settings) == ["pending"]
    waiting = db.certificates.find_one({"_id": cert["_id"]})
    assert "wkhtmltopdf" in waiting["lastError"] and waiting["nextAttemptAt"] > now()
    db.certificates.update_one({"_id": cert["_id"]}, {"$set": {"nextAttemptAt": now() - timedelta(seconds=1)}})
    assert drain(db, settings) == ["active"]


def test_a_failing_mail_server_delays_the_mail_never_the_certificate(db, make_settings):
    from lms.db import free_port
    port = free_port()
    settings = make_settings(LMS_SMTP_URL=f"smtp://127.0.0.1:{port}?starttls=0")
    cert = pending_certificate(db, settings)
    assert drain(db, settings) == ["active"]
    transport = open_mailer(settings)
    assert mailqueue.deliver_due(db, transport, "test-worker") == 0  # nothing listens yet
    queued = db.mails.find_one({"ref.id": cert["_id"]})
    assert queued["status"] == "queued" and queued["attempts"] == 1 and queued["lastError"]
    assert db.certificates.find_one({"_id": cert["_id"]})["status"] == "active"

    with SmtpDouble(port=port, auth=False) as smtp:
        db.mails.update_one({"_id": queued["_id"]}, {"$set": {"nextAttemptAt": now()}})
        assert mailqueue.deliver_due(db, transport, "test-worker") == 1
    assert len(smtp.messages) == 1
    assert db.certificates.find_one({"_id": cert["_id"]})["emailStatus"] == "sent"
