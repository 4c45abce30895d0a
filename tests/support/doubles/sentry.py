"""A loopback stand-in for Sentry's ingestion endpoint, receiving what sentry-sdk sends.

It answers ``POST /api/<project>/envelope/`` as Sentry does: the ``X-Sentry-Auth`` header must
name the DSN's public key (else 401) and the project must be the DSN's (else 404); the body may
be gzip-compressed (``Content-Encoding``), and is an envelope: a header line, then items, each
an item header line (with the payload's ``length`` or not) and its payload. Events (items of
type ``event``) are kept in ``events``, and every decompressed body in ``bodies``, so a test can
search all that left the service for a secret.

    double = SentryDouble().start()
    service = live_server(SENTRY_DSN=double.dsn)
    ...
    double.events        # the events, parsed
    double.received()    # every byte received, decompressed, as one bytes
"""
import gzip
import json
import re
import threading
import pytest

from .loopback import Handler, LoopbackDouble

ENVELOPE_PATH = re.compile(r"^/api/(?P<project>\d+)/envelope/?$")


class SentryDouble(LoopbackDouble):
    def __init__(self, public_key="0123456789abcdef0123456789abcdef", project="42"):
        self.handler = _Handler
        self.public_key, self.project = public_key, project
        self.events, self.bodies = [], []
        self._lock = threading.Lock()

    @property
    def dsn(self):
        return f"http://{self.public_key}@127.0.0.1:{self.port}/{self.project}"

    def received(self):
        with self._lock:
            return b"\n".join(self.bodies)

    def handle(self, path, auth, encoding, body):
        """(status, answer) for one POST, judged as Sentry judges it."""
        match = ENVELOPE_PATH.match(path)
        if not match or match["project"] != self.project:
            return 404, {"detail": "not found"}
        if f"sentry_key={self.public_key}" not in (auth or ""):
            return 401, {"detail": "invalid api key"}
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding:
            return 400, {"detail": f"unsupported content encoding {encoding}"}
        try:
            items = parse_envelope(body)
        except ValueError as exc:
            return 400, {"detail": f"invalid envelope: {exc}"}
        with self._lock:
            self.bodies.append(body)
            self.events.extend(payload for header, payload in items if header.get("type") == "event")
        return 200, {}


def parse_envelope(body):
    """[(item header, payload)] of an envelope; the payload parsed when it is JSON."""
    header_line, _, rest = body.partition(b"\n")
    json.loads(header_line)
    items = []
    while rest.strip():
        item_line, _, rest = rest.partition(b"\n")
        header = json.loads(item_line)
        if "length" in header:
            payload, rest = rest[:header["length"]], rest[header["length"] + 1:]
        else:
            payload, _, rest = rest.partition(b"\n")
        try:
            payload = json.loads(payload)
        except ValueError:
            pass  # attachments are bytes
        items.append((header, payload))
    return items


class _Handler(Handler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.answer_json(*self.double.handle(self.path, self.headers.get("X-Sentry-Auth"),
                                             self.headers.get("Content-Encoding"), body))


@pytest.fixture
def sentry_double():
    """A running SentryDouble, stopped after the test."""
    with SentryDouble() as double:
        yield double
