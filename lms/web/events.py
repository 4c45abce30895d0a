"""Live updates for a signed-in page: the user's notifications as Server-Sent Events.

``GET /api/user/events`` answers ``text/event-stream``: each notification the user gets (a
certificate issued, a submission reviewed, a payment confirmed) is one event, ``id:`` the
notification's id, ``event: notification``, ``data:`` its JSON (the ``Notification`` shape). A
comment line every ``HEARTBEAT`` seconds keeps proxies from closing a quiet stream. A browser's
``EventSource`` reconnects by itself with ``Last-Event-ID``; the stream then first sends what the
user missed after that event (``?lastEventId=`` does the same for a first connection).

How news reaches a stream, across replicas: one greenlet per process (``EventHub``) polls the
``notifications`` collection every ``POLL`` seconds and hands each new document to the streams
of its user in this process, so a thousand open streams cost one query a second, not a thousand.
Polling rather than a change stream because the embedded database has none, and one code path
is easier to trust; a notification reaches the page within about a second wherever it was
written. The poll looks ``LOOKBACK`` seconds behind its last document and remembers what it
delivered, so a write that lands late (another replica's clock, a slow insert) is not missed.

A stream costs a greenlet and a queue, never a worker thread. It ends when its session ends (a
logout, a password change: checked at every heartbeat, one indexed read) or when the access token
it was opened with expires (the page's ``EventSource`` then reconnects with the refreshed cookie),
and every stream ends cleanly when the server stops.
"""
import json
import logging
import time
from datetime import timedelta

import gevent
import gevent.queue
from pymongo.errors import PyMongoError

from ..accounts import notifications
from ..db import now

log = logging.getLogger("lms.events")
POLL = 1.0
HEARTBEAT = 15.0
LOOKBACK = timedelta(seconds=5)
_CLOSED = object()


class EventHub:
    def __init__(self, db, poll=POLL):
        self.db, self.poll = db, poll
        self.streams = {}  # user id -> set of queues
        self.delivered = {}  # notification id -> createdAt, within LOOKBACK of the cursor
        self.cursor = None
        self.greenlet = None
        self.closed = False

    def subscribe(self, user_id):
        if self.closed:
            raise RuntimeError("the server is stopping")
        queue = gevent.queue.Queue()
        self.streams.setdefault(user_id, set()).add(queue)
        if self.greenlet is None or self.greenlet.dead:
            self._prime()
            self.greenlet = gevent.spawn(self._run)
        return queue

    def unsubscribe(self, user_id, queue):
        queues = self.streams.get(user_id, set())
        queues.discard(queue)
        if not queues:
            self.streams.pop(user_id, None)

    def close(self):
        """End every stream (the server is stopping) and the poller."""
        self.closed = True
        for queues in list(self.streams.values()):
            for queue in list(queues):
                queue.put(_CLOSED)
        if self.greenlet is not None:
            self.greenlet.kill()

    def _prime(self):
        """Start polling from now: what was written before is a resumed stream's backlog, not news."""
        self.cursor = now()
        self.delivered = {note["_id"]: note["createdAt"]
                          for note in notifications.created_since(self.db, self.cursor - LOOKBACK)}

    def _run(self):
        while self.streams and not self.closed:
            try:
                self._deliver_new()
            except PyMongoError as exc:  # the database is away: try again at the next poll
                log.warning("event stream poll failed: %s", exc)
            gevent.sleep(self.poll)

    def _deliver_new(self):
        for note in notifications.created_since(self.db, self.cursor - LOOKBACK):
            if note["_id"] in self.delivered:
                continue
            self.delivered[note["_id"]] = note["createdAt"]
            self.cursor = max(self.cursor, note["createdAt"])
            for queue in list(self.streams.get(note["userId"], ())):
                queue.put(note)
        horizon = self.cursor - LOOKBACK
        self.delivered = {k: v for k, v in self.delivered.items() if v >= horizon}


def stream(hub, db, user_id, last_event_id, until, signed_in, heartbeat=HEARTBEAT):
    """The event stream of ``user_id`` (an iterator of bytes), resuming after ``last_event_id``,
    a comment every ``heartbeat`` seconds, ending at ``until`` (epoch seconds: when the access
    token expires) or at the first heartbeat at which ``signed_in()`` is false."""
    queue = hub.subscribe(user_id)  # before the backlog is read, so nothing falls between the two

    def events():
        sent = set()
        try:
            yield b"retry: 3000\n\n"
            for note in notifications.after(db, user_id, last_event_id) if last_event_id else ():
                sent.add(note["_id"])
                yield _event(note)
            while (left := until - time.time()) > 0:
                try:
                    note = queue.get(timeout=min(heartbeat, left))
                except gevent.queue.Empty:
                    if not signed_in():
                        return
                    yield b": keep-alive\n\n"
                    continue
                if note is _CLOSED:
                    return
                if note["_id"] not in sent:
                    yield _event(note)
        finally:
            hub.unsubscribe(user_id, queue)
    return events()


def _event(note):
    data = json.dumps(notifications.public(note), separators=(",", ":"))
    return f"id: {note['_id']}\nevent: notification\ndata: {data}\n\n".encode()
