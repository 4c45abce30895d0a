"""No request can stall the server or exhaust its memory, over real sockets against the served
app: multipart bombs and stalled bodies on each upload route while another thread keeps calling
``/api/health``; slow and silent heads and idle connections closed after the configured
timeouts; the connection cap; over-long request lines and headers; the server's memory with
uploads stalled midway. (How fast health answers meanwhile is measured by ``bench/abuse.py``.)
"""
import json
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from lms.learning.submissions import MAX_FILE_BYTES
from support.factories import PDF, create_course, create_user
from support.live import HealthPoller, call, chunked, resident_kib, send_raw
from support.submissions import nothing_stored
from support.waits import wait_until

SUBMISSIONS, VERIFY_PDF = "/api/submissions", "/api/certificates/verify-pdf"
BOUNDARY = "b0undary"
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
# Ten uploads stalled after STALLED_BYTES each may add at most this much to the server's memory
# (the README's Performance section); read whole into memory they would add 80 MiB.
STALLED_BYTES = 8 * 1024 * 1024
MEMORY_BOUND_KIB = 16 * 1024


def part(name, data=b"", filename=None):
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"


END = f"--{BOUNDARY}--\r\n".encode()


@pytest.fixture
def learner(live_server, db):
    """A served app with one-second body, head and idle timeouts, and the session headers of a
    learner enrolled in a course: (service, headers, course)."""
    service = live_server(LMS_BODY_TIMEOUT="1", LMS_HEADER_TIMEOUT="1", LMS_KEEPALIVE_TIMEOUT="1")
    course = create_course(db, price=0)
    headers = service.sign_in(create_user(db))
    assert call("POST", service.url + "/api/enroll", {"courseId": course["_id"]}, headers)[0] == 201
    return service, headers, course


def upload_head(route, course):
    """What precedes the files: the course id where the route takes one."""
    return part("courseId", course["_id"].encode()) if route == SUBMISSIONS else b""


def stalled(first, release):
    """A body that sends ``first`` and then nothing until ``release`` is set."""
    yield first
    release.wait(30)


def answer(result):
    status, headers, body = result
    return status, json.loads(body)["error"]["code"], headers


# --- bombs and stalls while health answers ------------------------------------------------

@pytest.mark.parametrize("route, parts", [(SUBMISSIONS, 900_000), (VERIFY_PDF, 90_000)])
def test_a_multipart_bomb_is_refused_at_its_first_part_too_many(learner, db, settings, route, parts):
    service, headers, course = learner
    bomb = upload_head(route, course) + part("x") * parts + END  # 50 MB / 5 MB of empty parts
    with HealthPoller(service.port) as health:
        result = send_raw(service.port, "POST", route, {**headers, **MULTIPART}, bomb)
        wait_until(lambda: len(health.samples) >= 5)
    status, code, answered = answer(result)
    assert (status, code, answered["Connection"]) == (413, "payload_too_large", "close")
    assert health.statuses == {200}
    assert nothing_stored(db, settings)


@pytest.mark.parametrize("route, limit", [(SUBMISSIONS, 51 * 2 ** 20), (VERIFY_PDF, 5 * 2 ** 20)])
def test_a_body_of_junk_before_any_boundary_is_refused_past_the_byte_limit(learner, db, settings, route, limit):
    service, headers, _ = learner
    almost = b"\r\n--" + BOUNDARY.encode()[:-1] + b"\r"  # a boundary's start, again and again, never one
    junk = almost * (limit // len(almost) + 2)
    with HealthPoller(service.port) as health:  # chunked: read until it is too much, not refused from its length
        result = send_raw(service.port, "POST", route, {**headers, **MULTIPART, "Transfer-Encoding": "chunked"},
                          chunked(junk))
        wait_until(lambda: len(health.samples) >= 5)
    assert answer(result)[:2] == (413, "payload_too_large")
    assert health.statuses == {200}
    assert nothing_stored(db, settings)


@pytest.mark.parametrize("route", [SUBMISSIONS, VERIFY_PDF])
def test_a_body_that_stalls_is_answered_408_and_closed_while_health_answers(learner, db, settings, route):
    service, headers, course = learner
    release = threading.Event()
    first = upload_head(route, course) + part("files" if route == SUBMISSIONS else "file", PDF, "a.pdf")[:-2]
    try:
        with HealthPoller(service.port) as health:
            result = send_raw(service.port, "POST", route, {**headers, **MULTIPART}, stalled(first, release),
                              length=len(first) + 2 ** 20)
    finally:
        release.set()
    status, code, answered = answer(result)
    assert (status, code, answered["Connection"]) == (408, "request_timeout", "close")
    assert health.statuses == {200} and len(health.samples) >= 5  # answered throughout the second it waited
    assert nothing_stored(db, settings)


# --- refused at the moment a limit breaks, before the rest is read -----------------------

def test_an_upload_is_refused_before_its_files_when_the_learner_may_not_submit(learner, db, settings):
    service, _, course = learner
    stranger = service.sign_in(create_user(db))  # signed in, not enrolled
    release = threading.Event()
    first = part("courseId", course["_id"].encode()) + part("files", PDF + bytes(2 ** 20), "a.pdf")[:-2]
    try:
        result = send_raw(service.port, "POST", SUBMISSIONS, {**stranger, **MULTIPART},
                          stalled(first, release), length=len(first) + 40 * 2 ** 20)
    finally:
        release.set()
    assert answer(result)[:2] == (403, "not_enrolled")  # answered while 40 MB were still to come
    assert nothing_stored(db, settings)


def test_a_file_over_its_limit_is_refused_the_moment_it_passes_it(learner, db, settings):
    service, headers, course = learner
    release = threading.Event()
    first = part("courseId", course["_id"].encode()) + part("files", PDF + bytes(MAX_FILE_BYTES), "big.pdf")[:-2]
    try:
        result = send_raw(service.port, "POST", SUBMISSIONS, {**headers, **MULTIPART}, stalled(first, release),
                          length=len(first) + 30 * 2 ** 20)
    finally:
        release.set()
    status, code, answered = answer(result)
    assert (status, code, answered["Connection"]) == (413, "file_too_large", "close")
    assert nothing_stored(db, settings)


# --- heads, idle connections, the connection cap --------------------------------------------

def closed_within(sock, seconds, trickle=None):
    """Seconds until the server closed ``sock`` (None if it stayed open ``seconds``), sending a
    byte of ``trickle`` every 0.2 s meanwhile; also what it sent before closing."""
    started, received = time.monotonic(), b""
    sock.settimeout(0.2)
    for byte in (trickle or b"") + b"\0" * int(seconds * 5):
        if trickle:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return time.monotonic() - started, received
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - started, received
        if not data:
            return time.monotonic() - started, received
        received += data
    return None, received


def test_heads_sent_slowly_or_not_at_all_are_closed_after_the_header_timeout(learner):
    service = learner[0]
    trickled = socket.create_connection(("127.0.0.1", service.port))
    silent = socket.create_connection(("127.0.0.1", service.port))
    # One byte every 0.2 s never stalls a read for the (one-second) timeout: the deadline is
    # for the whole head, so the trickle is cut off all the same.
    after, received = closed_within(trickled, 10, trickle=b"GET /api/health HTTP/1.1\r\nX-Slow: " + b"a" * 100)
    assert after is not None and after >= 0.9 and received == b""
    after, received = closed_within(silent, 10)
    assert after is not None and received == b""


def test_an_idle_keep_alive_connection_is_closed_after_the_keepalive_timeout(learner):
    service = learner[0]
    sock = socket.create_connection(("127.0.0.1", service.port))
    sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: lms.test\r\n\r\n")
    after, received = closed_within(sock, 10)
    assert received.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" not in received
    assert after is not None and after >= 0.9


def test_connections_past_the_cap_are_answered_503_at_once(live_server):
    service = live_server(LMS_MAX_CONNECTIONS="3", LMS_HEADER_TIMEOUT="30")
    held = [socket.create_connection(("127.0.0.1", service.port)) for _ in range(3)]
    try:
        status, headers, body = send_raw(service.port, "GET", "/api/health")
        assert (status, headers["Retry-After"], headers["Connection"]) == (503, "1", "close")
        assert json.loads(body)["error"]["code"] == "server_busy"
    finally:
        for sock in held:
            sock.close()
    assert wait_until(lambda: (send_raw(service.port, "GET", "/api/health") or [None])[0] == 200, timeout=10)


@pytest.mark.parametrize("head, status, code", [
    (b"GET /api/courses?q=" + b"x" * 9000 + b" HTTP/1.1\r\nHost: lms.test\r\n\r\n", 414, "uri_too_long"),
    (b"GET /api/courses HTTP/1.1\r\nHost: lms.test\r\nCookie: " + b"c" * 9000 + b"\r\n\r\n", 431,
     "headers_too_large"),
    (b"GET /api/courses HTTP/1.1\r\n" + b"X-Many: header\r\n" * 101 + b"\r\n", 431, "headers_too_large"),
    (b"GET /api/courses HTTP/1.1\r\n" + (b"X-Big: " + b"b" * 8000 + b"\r\n") * 5 + b"\r\n", 431,
     "headers_too_large"),
    (b"GET /api/courses HTTP/1.1\r\nContent-Length: many\r\n\r\n", 400, "bad_request"),
], ids=["request-line", "header-line", "header-count", "header-bytes", "malformed"])
def test_heads_past_the_limits_are_answered_in_the_json_envelope_and_closed(learner, head, status, code):
    sock = socket.create_connection(("127.0.0.1", learner[0].port))
    sock.sendall(head)
    _, received = closed_within(sock, 10)
    headers, _, body = received.partition(b"\r\n\r\n")
    assert headers.startswith(f"HTTP/1.1 {status} ".encode())
    for expected in (b"Content-Type: application/json", b"Connection: close", b"X-Request-Id: ",
                     b"X-Content-Type-Options: nosniff"):
        assert expected in headers
    assert json.loads(body)["error"]["code"] == code


# --- memory -----------------------------------------------------------------------------------

def spooled_files(pid):
    """How many temporary files process ``pid`` has open (uploads spooled to disk)."""
    root = tempfile.gettempdir()
    found = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        found += target.startswith(root) and target.endswith("(deleted)")  # unnamed from the start
    return found


def test_stalled_uploads_wait_on_disk_not_in_memory(live_server, db, settings):
    service = live_server(LMS_BODY_TIMEOUT="60")
    course = create_course(db, price=0)
    headers = service.sign_in(create_user(db))
    call("POST", service.url + "/api/enroll", {"courseId": course["_id"]}, headers)
    pid = service.process.pid
    first = part("courseId", course["_id"].encode()) + part("files", PDF + bytes(STALLED_BYTES), "a.pdf")[:-2]
    warm = send_raw(service.port, "POST", SUBMISSIONS, {**headers, **MULTIPART},
                    first[:len(first) // 4] + b"\r\n" + END)  # the upload path's code and buffers, once
    assert warm[0] == 201
    before = resident_kib(pid)
    head = "".join(f"{name}: {value}\r\n" for name, value in {**headers, **MULTIPART}.items())
    request = (f"POST {SUBMISSIONS} HTTP/1.1\r\nHost: lms.test\r\n{head}Content-Length: {len(first) * 2}\r\n\r\n"
               ).encode() + first
    uploads = [socket.create_connection(("127.0.0.1", service.port)) for _ in range(10)]
    try:
        for upload in uploads:
            upload.sendall(request)  # and then nothing more: stalled with half of the body sent
        assert wait_until(lambda: _read_out(service.port, 10), timeout=30), "the server did not read the uploads"
        assert wait_until(lambda: _settled(pid), timeout=30)
        grown = resident_kib(pid) - before
    finally:
        for upload in uploads:
            upload.close()
    assert grown < MEMORY_BOUND_KIB, f"{grown} KiB more with ten uploads stalled at {STALLED_BYTES >> 20} MiB"
    assert wait_until(lambda: spooled_files(pid) == 0, timeout=30)  # their files went with them
    assert db.submissions.count_documents({}) == 1


def _read_out(port, connections):
    """True once ``connections`` connections to ``port`` are open and the server has read all
    that arrived on them (its receive queues in /proc/net/tcp are empty)."""
    queues = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "01":  # ours, established
            queues.append(int(fields[4].split(":")[1], 16))
    return len(queues) >= connections and not any(queues)


def _settled(pid):
    """True once the server has read what the stalled uploads sent (its input is drained)."""
    first = resident_kib(pid)
    time.sleep(0.2)
    return abs(resident_kib(pid) - first) < 256
