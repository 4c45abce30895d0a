"""The service as a process: the embedded database's life, restarts, signals and start-up faults."""
import signal
import socket
import time

import pymongo

from lms.db import EmbeddedServer
from support.database import Commands
from support.live import Service, alive
from support.waits import wait_until

ADMIN = {"LMS_BOOTSTRAP_ADMIN_EMAIL": "admin@example.com", "LMS_BOOTSTRAP_ADMIN_PASSWORD": "correct horse"}


def users_in(port):
    client = pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true",
                                 serverSelectionTimeoutMS=5000)
    try:
        return list(client.lms.users.find({}, {"email": 1, "passwordHash": 1, "role": 1}))
    finally:
        client.close()


def test_serves_with_no_configuration_and_keeps_data_across_restarts(tmp_path):
    service = Service(tmp_path, **ADMIN).start()
    try:
        health = service.wait_healthy()
        assert health["db"]["ok"] and health["worker"]["running"]
        first = service.embedded_state()
        before = users_in(first["port"])
        assert [(u["email"], u["role"]) for u in before] == [("admin@example.com", "admin")]
    finally:
        assert service.stop() == 0
    assert not alive(first["pid"]), "the embedded database outlived the app"
    assert not (tmp_path / "db.json").exists()

    again = Service(tmp_path, **ADMIN).start()
    try:
        again.wait_healthy()
        after = users_in(again.embedded_state()["port"])
        assert after == before  # kept on disk, and the bootstrap admin is not created twice
    finally:
        assert again.stop() == 0


def test_a_second_process_joins_the_running_database(tmp_path):
    web = Service(tmp_path).start()
    worker = None
    try:
        web.wait_healthy()
        state = web.embedded_state()
        worker = Service(tmp_path, "worker").start()
        client = pymongo.MongoClient(f"mongodb://127.0.0.1:{state['port']}/?directConnection=true")
        assert wait_until(lambda: client.lms.workers.count_documents({}) == 2, timeout=30)
        client.close()
        assert web.embedded_state() == state  # no second server on the same files
    finally:
        if worker:
            assert worker.stop() == 0
        assert web.stop() == 0
    assert not alive(state["pid"])


def test_a_killed_app_takes_its_database_down_with_it(tmp_path):
    service = Service(tmp_path).start()
    service.wait_healthy()
    pid = service.embedded_state()["pid"]
    service.signal(signal.SIGKILL)
    service.process.wait()
    assert wait_until(lambda: not alive(pid), timeout=20), "orphaned embedded database"


def test_sigint_stops_cleanly_too(tmp_path):
    service = Service(tmp_path).start()
    service.wait_healthy()
    pid = service.embedded_state()["pid"]
    service.signal(signal.SIGINT)
    assert service.process.wait(30) == 0
    assert not alive(pid)


def test_port_in_use_is_reported_and_nothing_is_left_running(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = Service(tmp_path, PORT=str(port)).run()
    assert code == 1
    assert f"port {port}" in err and "already in use" in err
    assert "Traceback" not in err
    assert not (tmp_path / "db.json").exists()


def test_invalid_setting_exits_naming_it(tmp_path):
    code, out, err = Service(tmp_path, LMS_WORKER_CONCURRENCY="lots").run()
    assert code == 2
    assert "LMS_WORKER_CONCURRENCY" in err and "Traceback" not in err


def test_unreachable_database_is_retried_then_reported(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    code, out, err = Service(tmp_path, MONGODB_URI=f"mongodb://127.0.0.1:{port}/lms",
                             LMS_DB_WAIT="2").run()
    assert code == 2
    assert f"127.0.0.1:{port}" in err and "did not answer within 2s" in err
    assert time.monotonic() - started >= 2  # it did retry


def test_create_admin_validates_and_refuses_duplicates(tmp_path, mongo_uri):
    from support.database import with_database
    uri = with_database(mongo_uri, f"lms_cli_{tmp_path.name[-8:]}")

    def create(*args):
        return Service(tmp_path, "create-admin", *args, MONGODB_URI=uri).run()

    code, out, err = create("--email", "root@example.com", "--name", "Root", "--password", "s3cret-enough")
    assert code == 0 and "created admin root@example.com" in out, err
    code, out, err = create("--email", "ROOT@example.com", "--password", "another-password")
    assert code == 1 and "already exists" in err
    code, out, err = create("--email", "not-an-email", "--password", "short")
    assert code == 1 and "email: must be an e-mail address" in err and "password" in err
    client = pymongo.MongoClient(uri)
    try:
        assert [(u["email"], u["role"]) for u in client.get_default_database().users.find()] == \
            [("root@example.com", "admin")]
    finally:
        client.drop_database(client.get_default_database().name)
        client.close()


def test_writes_to_the_embedded_database_leave_no_retry_records(tmp_path):
    """A retryable write is recorded by the embedded server for 30 minutes, and every later
    write scans (past 10,000, sorts) those records; with no failover to ride out, its URI says
    ``retryWrites=false``, so the driver sends no transaction number to record."""
    server = EmbeddedServer(tmp_path)
    commands = Commands()
    client = pymongo.MongoClient(server.start(), event_listeners=[commands])
    try:
        client.lms.probe.insert_one({"_id": 1, "n": 0})
        client.lms.probe.update_one({"_id": 1}, {"$inc": {"n": 1}})
        client.lms.probe.find_one_and_update({"_id": 1}, {"$inc": {"n": 1}})
    finally:
        client.close()
        server.stop()
    writes = [command for name, command in commands.sent if name in ("insert", "update", "findAndModify")]
    assert len(writes) == 3 and not [command for command in writes if "txnNumber" in command]
