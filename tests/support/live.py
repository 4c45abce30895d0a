"""The real service as a child process, the way ./run.sh runs it, and requests to it over
real sockets: for races between real requests, signals, restarts and the CLI."""
import http.client
import http.cookies
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from lms.db import free_port
from support import ROOT


def alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


class Service:
    """``python lms.py VERB`` with its own environment; ``url`` is where it listens."""

    def __init__(self, data_dir, *argv, **env):
        self.port = int(env.pop("PORT", 0)) or free_port()
        self.env = {**os.environ, "LMS_DATA_DIR": str(data_dir), "PORT": str(self.port),
                    "LMS_BCRYPT_ROUNDS": "4", "PYTHONUNBUFFERED": "1", **env}
        for name in ("MONGODB_URI",):
            if name not in env:
                self.env.pop(name, None)
        self.argv = list(argv) or ["serve"]
        self.data_dir = Path(data_dir)
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        # Output goes to files, not pipes: a pipe nobody reads fills up and blocks the service.
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.stdout_path, self.stderr_path = self.data_dir / "stdout.log", self.data_dir / "stderr.log"
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            self.process = subprocess.Popen([sys.executable, str(ROOT / "lms.py"), *self.argv], cwd=ROOT,
                                            env=self.env, stdout=out, stderr=err, text=True)
        return self

    @property
    def stdout(self):
        return self.stdout_path.read_text()

    @property
    def stderr(self):
        return self.stderr_path.read_text()

    def wait_healthy(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"service exited {self.process.returncode}: {self.stderr}")
            try:
                with urllib.request.urlopen(self.url + "/api/health", timeout=2) as response:
                    if response.status == 200:
                        return json.load(response)
            except OSError:
                time.sleep(0.05)  # not listening yet: starting takes a second or two
        raise AssertionError("service did not become healthy")

    def sign_in(self, user, token="access_token"):
        """The headers a browser sends in the session ``user`` starts through the real login
        route: the ``token`` cookie and the CSRF cookie, and the CSRF header echoing it."""
        status, _, headers = call("POST", self.url + "/api/auth/login",
                                  {"email": user["email"], "password": user["password"]})
        assert status == 200, f"login answered {status}"
        cookies = cookies_from(headers)
        return {"Cookie": f"{token}={cookies[token]}; XSRF-TOKEN={cookies['XSRF-TOKEN']}",
                "X-XSRF-TOKEN": cookies["XSRF-TOKEN"]}

    def embedded_state(self):
        return json.loads((self.data_dir / "db.json").read_text())

    def signal(self, signum=signal.SIGTERM):
        self.process.send_signal(signum)

    def stop(self, timeout=30):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def run(self, timeout=60):
        """Run to completion; (exit code, stdout, stderr)."""
        self.start()
        self.process.wait(timeout)
        return self.process.returncode, self.stdout, self.stderr


def call(method, url, body=None, headers=None, timeout=30):
    """One HTTP request over a real socket: (status, parsed JSON body, response headers)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        **({"Content-Type": "application/json"} if data is not None else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null"), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null"), error.headers


def cookies_from(headers):
    """name -> value of the Set-Cookie headers of a response."""
    jar = http.cookies.SimpleCookie()
    for value in headers.get_all("Set-Cookie") or []:
        jar.load(value)
    return {name: morsel.value for name, morsel in jar.items()}


def send_raw(port, method, target, headers=None, body=b"", *, length=None, timeout=30):
    """One request over a fresh socket, written as given: (status, headers, body), or None when
    the server closed the connection without answering. ``body`` is bytes or an iterable of
    chunks (a generator may pause between them); it is written from another thread, so an
    answer that comes before the whole body was sent (a refusal mid-upload) is still read.
    ``length`` is the Content-Length announced (default: the length of a bytes body)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    chunks = [body] if isinstance(body, bytes) else body
    length = len(body) if length is None and isinstance(body, bytes) else length
    head = [f"{method} {target} HTTP/1.1", "Host: lms.test", "Connection: close",
            *([f"Content-Length: {length}"] if length is not None else []),
            *(f"{name}: {value}" for name, value in (headers or {}).items())]

    def write():
        try:
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
            for chunk in chunks:
                sock.sendall(chunk)
        except OSError:
            pass  # the server answered and closed before reading it all
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        response = http.client.HTTPResponse(sock)
        try:
            response.begin()
        except (http.client.RemoteDisconnected, ConnectionError):
            return None
        return response.status, response.headers, response.read()
    finally:
        sock.close()
        writer.join(timeout)


class HealthPoller:
    """A thread that calls ``/api/health`` back to back on one keep-alive connection until
    stopped, keeping each answer's status and milliseconds: to show that the service kept
    answering (and how fast) while something else hit it."""

    def __init__(self, port):
        self.port, self.samples = port, []
        self._stop, self._ready = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        """Starts polling, and returns once the first answer came (connected before what follows)."""
        self._begin()
        self._ready.wait(30)
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._end()

    def _begin(self):
        self._thread.start()

    def _end(self):
        self._thread.join(30)

    def _run(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                connection.request("GET", "/api/health")
                response = connection.getresponse()
                response.read()
                status = response.status
            except OSError as exc:
                status = repr(exc)
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.samples.append((status, (time.perf_counter() - started) * 1000))
            self._ready.set()
        connection.close()

    @property
    def statuses(self):
        return {status for status, _ in self.samples}

    @property
    def worst_ms(self):
        return max(ms for _, ms in self.samples)


def resident_kib(pid):
    """The resident memory of process ``pid`` (VmRSS), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def chunked(data, size=2 ** 20):
    """``data`` as a chunked transfer encoding's pieces, ``size`` bytes a chunk (for ``send_raw``
    with ``Transfer-Encoding: chunked``: a body whose length is not announced)."""
    for start in range(0, len(data), size):
        piece = data[start:start + size]
        yield b"%x\r\n%s\r\n" % (len(piece), piece)
    yield b"0\r\n\r\n"
