"""Live updates: a signed-in page's Server-Sent Events stream of its user's notifications, read
over a real socket as a browser's EventSource reads it."""
import http.client
import json
import signal
import threading
import time
from urllib.parse import urlsplit

from lms.accounts import notifications
from lms.web import events
from support.factories import create_course, create_user
from support.live import alive, call
from support.waits import wait_until

EVENTS = "/api/user/events"


class EventStream:
    """An open ``text/event-stream`` response, parsed into events by a reader thread."""

    def __init__(self, server, headers, path=EVENTS):
        parts = urlsplit(server.url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.connection.request("GET", path, headers={"Accept": "text/event-stream", **headers})
        self.response = self.connection.getresponse()
        self.events, self.comments, self.ended = [], [], threading.Event()
        if self.response.status == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        event = {}
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\n")
                if not line:
                    if event:
                        self.events.append(event)
                    event = {}
                elif line.startswith(":"):
                    self.comments.append(line)
                else:
                    name, _, value = line.partition(": ")
                    event[name] = value
        except OSError:
            pass
        self.ended.set()

    def notifications(self):
        return [json.loads(e["data"]) for e in self.events if e.get("event") == "notification"]

    def close(self):
        self.connection.close()


def test_a_notification_reaches_the_open_stream_of_its_user_and_no_one_else(live_server, db):
    server = live_server()
    student, other = create_user(db), create_user(db)
    mine, theirs = EventStream(server, server.sign_in(student)), EventStream(server, server.sign_in(other))
    try:
        assert mine.response.status == 200
        assert mine.response.getheader("Content-Type").startswith("text/event-stream")
        assert mine.response.getheader("Cache-Control") == "no-store"
        assert wait_until(lambda: mine.events and mine.events[0] == {"retry": "3000"})
        # Written by another process (a worker, another replica): the stream polls the collection.
        note = notifications.add(db, student["_id"], "certificate.issued", "Your certificate is ready",
                                 "Python · CERT-X", "https://lms.test/verify/CERT-X")
        assert wait_until(lambda: mine.notifications(), timeout=5)
        [event] = [e for e in mine.events if e.get("event") == "notification"]
        assert event["id"] == note["_id"]
        assert json.loads(event["data"]) == notifications.public(note)
        time.sleep(1.5)  # a poll or two later: nothing reached the other user, nothing came twice
        assert theirs.notifications() == [] and len(mine.notifications()) == 1
    finally:
        mine.close()
        theirs.close()


def test_the_certificate_made_by_the_in_process_worker_arrives_as_an_event(live_server, db):
    server = live_server(LMS_WORKER="1")
    student = create_user(db)
    stream = EventStream(server, server.sign_in(student))
    course, headers = create_course(db, price=0), server.sign_in(student)
    try:
        assert call("POST", server.url + "/api/enroll", {"courseId": course["_id"]}, headers)[0] == 201
        for lesson in ("intro", "setup"):
            call("POST", server.url + "/api/progress/complete-lesson",
                 {"courseId": course["_id"], "moduleId": "m1", "lessonId": lesson}, headers)
        assert wait_until(lambda: stream.notifications(), timeout=20)
        [issued] = stream.notifications()
        assert issued["kind"] == "certificate.issued" and issued["link"].startswith("https://lms.test/verify/")
    finally:
        stream.close()


def test_a_reconnecting_stream_first_gets_what_it_missed_after_its_last_event(live_server, db):
    server = live_server()
    student = create_user(db)
    first, missed, later = (notifications.add(db, student["_id"], "certificate.issued", f"News {n}", "")
                            for n in range(3))
    notifications.add(db, create_user(db)["_id"], "certificate.issued", "Not theirs", "")
    stream = EventStream(server, {**server.sign_in(student), "Last-Event-ID": first["_id"]})
    try:
        assert wait_until(lambda: len(stream.notifications()) == 2)
        assert [n["id"] for n in stream.notifications()] == [missed["_id"], later["_id"]]
    finally:
        stream.close()
    by_query = EventStream(server, server.sign_in(student), path=f"{EVENTS}?lastEventId={missed['_id']}")
    try:
        assert wait_until(lambda: [n["id"] for n in by_query.notifications()] == [later["_id"]])
    finally:
        by_query.close()


def test_a_stream_needs_a_session(live_server):
    server = live_server()
    stream = EventStream(server, {})
    assert stream.response.status == 401
    assert json.loads(stream.response.read())["error"]["code"] == "unauthenticated"


def test_open_streams_end_cleanly_when_the_server_stops(live_server, db):
    server = live_server()
    student = create_user(db)
    streams = [EventStream(server, server.sign_in(student)) for _ in range(3)]
    assert wait_until(lambda: all(s.events for s in streams))
    started = time.monotonic()
    server.signal(signal.SIGTERM)
    assert all(s.ended.wait(5) for s in streams)
    assert server.process.wait(10) == 0 and time.monotonic() - started < 5  # not the 10 s stop timeout
    assert not alive(server.process.pid)


def test_a_stream_ends_when_its_token_expires_and_says_it_is_alive_meanwhile(db):
    hub = events.EventHub(db, poll=0.05)
    user = create_user(db)
    try:
        started = time.monotonic()
        sent = list(events.stream(hub, db, user["_id"], None, until=time.time() + 0.5, signed_in=lambda: True,
                                  heartbeat=0.1))
        assert 0.4 < time.monotonic() - started < 2
        assert sent[0] == b"retry: 3000\n\n" and sent.count(b": keep-alive\n\n") >= 3
        assert hub.streams == {}, "an ended stream leaves the hub"
    finally:
        hub.close()


def test_a_stream_ends_at_the_first_heartbeat_after_its_session_ended(db):
    hub = events.EventHub(db, poll=0.05)
    user, ended = create_user(db), threading.Event()
    try:
        threading.Timer(0.3, ended.set).start()  # a logout elsewhere, a moment after the page opened it
        started = time.monotonic()
        sent = list(events.stream(hub, db, user["_id"], None, until=time.time() + 30,
                                  signed_in=lambda: not ended.is_set(), heartbeat=0.1))
        assert time.monotonic() - started < 1 and sent[-1] == b": keep-alive\n\n"
    finally:
        hub.close()
