"""The worst /api/health latency while the service is attacked, one attack at a time.

    .venv/bin/python bench/abuse.py

Each attack runs from threads of this process against a real service while another process
calls /api/health back to back on one keep-alive connection (another process, so that the
attack's own work in Python does not count as the server's); the line printed per attack is
those latencies (p50, p95, worst, in ms) and what the attack got back. The goal is a worst
case under 100 ms on the 2-core development machine (other work on the machine shows up as
spikes in every line, the idle one included: run it twice). The last line is how much the
server's resident memory grew over the whole run.
"""
import json
import multiprocessing
import socket
import threading
import time

from common import Stack, call, summary
from support.live import HealthPoller, chunked, resident_kib, send_raw

BOUNDARY = "b0undary"
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
SUBMISSIONS, VERIFY_PDF = "/api/submissions", "/api/certificates/verify-pdf"


def part(name, data=b"", filename=None):
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"


END = f"--{BOUNDARY}--\r\n".encode()


def _poll(port, ready, stop, results):
    with HealthPoller(port) as health:
        ready.set()
        stop.wait()
    results.put(health.samples)


class Health(HealthPoller):
    """A HealthPoller whose polling runs in a child process."""

    def __init__(self, port):
        super().__init__(port)
        context = multiprocessing.get_context("spawn")
        self._ready, self._stop, self._results = context.Event(), context.Event(), context.Queue()
        self._process = context.Process(target=_poll, args=(port, self._ready, self._stop, self._results))

    def _begin(self):
        self._process.start()

    def _end(self):
        self.samples = self._results.get(timeout=60)
        self._process.join(60)


def in_parallel(n, attack):
    """Run ``attack()`` in ``n`` threads; the set of what they returned."""
    results, threads = [], [threading.Thread(target=lambda: results.append(attack())) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def status(result):
    if result is None:
        return "closed"
    code = result[0]
    try:
        return f"{code} {json.loads(result[2])['error']['code']}"
    except (ValueError, KeyError, TypeError):
        return str(code)


def trickle(port, n, seconds):
    """``n`` connections sending their head one byte at a time, until the server closes them."""
    sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
    head, closed, deadline = b"GET /api/health HTTP/1.1\r\nX-Slow: " + b"a" * 1000, 0, time.monotonic() + seconds
    for index in range(len(head)):
        for sock in list(sockets):
            try:
                sock.sendall(head[index:index + 1])
            except OSError:
                sockets.remove(sock)
                closed += 1
        if not sockets or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for sock in sockets:
        sock.close()
    return f"{closed} of {n} closed by the server"


def stall(port, headers, body, n, seconds):
    """``n`` uploads that send ``body`` and then nothing, held open ``seconds``."""
    head = "".join(f"{k}: {v}\r\n" for k, v in {**headers, **MULTIPART}.items())
    request = (f"POST {SUBMISSIONS} HTTP/1.1\r\nHost: bench\r\n{head}Content-Length: {len(body) * 4}\r\n\r\n"
               ).encode() + body
    sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
    for sock in sockets:
        sock.sendall(request)
    time.sleep(seconds)
    for sock in sockets:
        sock.close()
    return f"{n} stalled for {seconds} s"


def main():
    with Stack(LMS_BODY_TIMEOUT="5", LMS_HEADER_TIMEOUT="5") as stack:
        import pymongo
        from support.factories import PDF, create_course, create_user
        client = pymongo.MongoClient(stack.db.uri.replace("/?", "/lms_bench?"), tz_aware=True)
        db = client.get_default_database()
        course = create_course(db, price=0, description="d" * 5000)
        headers = stack.service.sign_in(create_user(db))
        assert call("POST", stack.url + "/api/enroll", {"courseId": course["_id"]}, headers)[0] == 201
        port, pid = stack.service.port, stack.service.process.pid
        form = part("courseId", course["_id"].encode())
        send = lambda route, body, **kw: send_raw(port, "POST", route, {**headers, **MULTIPART}, body, **kw)  # noqa: E731
        bomb = form + part("x") * 900_000 + END
        small_bomb = part("x") * 90_000 + END
        almost = (b"\r\n--" + BOUNDARY.encode()[:-1] + b"\r") * 4_500_000
        files = form + b"".join(part("files", PDF + bytes(10 * 2 ** 20 - len(PDF)), f"{n}.pdf") for n in range(5)) + END
        deep = b"[" * 500_000 + b"]" * 500_000
        stalled = form + part("files", PDF + bytes(8 * 2 ** 20), "a.pdf")[:-2]
        # Every payload is built before the attack starts: building one in this process while
        # the health thread runs would be measured as the server's slowness.
        attacks = [
            ("nothing (idle)", lambda: time.sleep(2) or "-"),
            ("a multipart bomb: 900,000 empty parts (50 MB) on /api/submissions",
             lambda: status(send(SUBMISSIONS, bomb))),
            ("five in parallel: 90,000 empty parts (5 MB) on /api/certificates/verify-pdf",
             lambda: in_parallel(5, lambda: status(send(VERIFY_PDF, small_bomb)))),
            ("54 MB of almost-boundaries and no part, chunked (no length to refuse it by), on /api/submissions",
             lambda: status(send_raw(port, "POST", SUBMISSIONS, {**headers, **MULTIPART,
                                                                 "Transfer-Encoding": "chunked"}, chunked(almost)))),
            ("five legitimate uploads of 5 files of 10 MB each, in parallel",
             lambda: in_parallel(5, lambda: status(send(SUBMISSIONS, files)))),
            ("JSON nested 500,000 deep (1 MB) on /api/auth/signup, 5 in parallel",
             lambda: in_parallel(5, lambda: status(send_raw(port, "POST", "/api/auth/signup",
                                                            {"Content-Type": "application/json"}, deep)))),
            ("300 distinct junk query strings on a course page",
             lambda: {status(send_raw(port, "GET", f"/api/courses/{course['slug']}?junk={n}"))
                      for n in range(300)}),
            ("200 connections trickling their headers", lambda: trickle(port, 200, 10)),
            ("ten uploads stalled after 8 MB each", lambda: stall(port, headers, stalled, 10, 3)),
        ]
        before = resident_kib(pid)
        for name, attack in attacks:
            with Health(port) as health:
                got = attack()
            statuses = health.statuses
            print(f"{name}: health {summary([ms for _, ms in health.samples])}"
                  f"{'' if statuses == {200} else f' ANSWERED {statuses}'}; the attack got {got}")
        print(f"server resident memory: {before // 1024} MiB before, {resident_kib(pid) // 1024} MiB after")
        client.close()


if __name__ == "__main__":
    main()
