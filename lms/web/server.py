"""Serving: gevent's WSGI server, tuned and guarded against clients that hold on, with a
graceful stop.

What a connection may do (the timeouts come from the configuration):
- Send its request line and headers within ``header_timeout`` seconds of connecting (on a
  kept-alive connection, of the next request's first byte). The clock is one deadline for the
  whole head, so trickling a byte at a time does not extend it. Past it the connection is closed
  without an answer: nobody is reading one.
- Stay idle between requests for at most ``keepalive_timeout`` seconds, then it is closed.
- Stall its body for at most ``body_timeout`` seconds: a read of the body that waits that long for
  a byte fails, the route answers 408 ``request_timeout`` and the connection is closed. (A body
  that keeps arriving, however slowly, is bounded by the route's byte limits instead.) The same
  timeout ends a response the client stops reading for that long.
- Keep its request line within ``MAX_REQUEST_LINE`` bytes (else 414 ``uri_too_long``) and its
  header section within ``MAX_HEADERS`` lines of at most ``MAX_HEADER_LINE`` bytes and
  ``MAX_HEADER_BYTES`` in all (else 431 ``headers_too_large``); a head gevent cannot parse is a 400.
  These answers go through the app (``Middleware``), so they are JSON on ``/api/`` with the usual
  headers and an access-log line; the connection is then closed.
- Be one of at most ``max_connections`` open connections (idle keep-alive ones and event streams
  included). One more is answered 503 ``server_busy`` at once and closed, rather than waiting
  in a queue that grows without bound.
- When an answer goes out while more than ``DRAIN_BYTES`` of the request body are unread (a body
  refused from its Content-Length, or at the moment it broke a limit), the connection is closed
  rather than reading the rest only to throw it away.
"""
import errno
import io
import json
import logging
import signal
import socket

import gevent
import gevent.event
import gevent.pool
from gevent.pywsgi import Input, WSGIHandler, WSGIServer, headers_factory

from .. import errors

log = logging.getLogger("lms.server")
MAX_REQUEST_LINE = 8 * 1024
MAX_HEADER_LINE = 8 * 1024
MAX_HEADER_BYTES = 32 * 1024
MAX_HEADERS = 100
DRAIN_BYTES = 64 * 1024
BUSY_BODY = json.dumps({"ok": False, "error": {"code": "server_busy", "message": "Too many connections; try again"}},
                       separators=(",", ":")).encode()
BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
        b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(BUSY_BODY), BUSY_BODY))


class StartupError(Exception):
    pass


class _SlowHead(Exception):
    """The request line and headers did not arrive within the header timeout."""


class _HeadersTooLarge(Exception):
    pass


class Refused(errors.LMSError):
    """A request refused before the app could read it (414, 431, 400)."""

    def __init__(self, status, code, message):
        super().__init__(message, code=code)
        self.status = status


class Body(Input):
    """gevent's request body, which can also hand over what has arrived so far: ``read(n)``
    waits for all ``n`` bytes, so a reader that must act on each byte as it comes (a limit broken
    midway, with the client then holding back the rest) uses ``read1``."""

    __slots__ = ()

    def read1(self, size):
        """Between 1 and ``size`` bytes, as soon as any are there; b"" at the end. A chunked body
        gives at most the rest of the chunk being read."""
        if self.chunked_input:
            inside = self.chunk_length - self.position
            return self.read(min(size, inside) if inside > 0 else 1)
        left = (self.content_length or 0) - self.position
        if left <= 0:
            return b""
        self._send_100_continue()
        data = self.rfile.read1(min(size, left))
        if not data:
            raise OSError(f"unexpected end of file while reading request at position {self.position}")
        self.position += len(data)
        return data


class Handler(WSGIHandler):
    """One connection: gevent's handler with the deadlines and limits of the module docstring."""

    served = 0  # requests answered on this connection
    deadline = None  # the header timeout, one timer per connection

    def handle_one_request(self):
        server = self.server
        if self.rfile.closed:
            return None
        if self.deadline is None:
            self.deadline = gevent.Timeout(server.header_timeout, _SlowHead)
        try:
            if self.served:  # kept alive: wait for the next request, but not forever
                self.socket.settimeout(server.keepalive_timeout)
                if not self.rfile.peek(1):
                    return None
            else:
                self.socket.settimeout(server.header_timeout)
            self.deadline.start()
            try:
                head = self._read_head()
            finally:
                self.deadline.cancel()
        except (OSError, _SlowHead):  # gone, reset, or too slow: there is nobody to answer
            return None
        if head is None:
            return None
        if head is not True:
            self._refuse(head)
            return None
        self.environ = self.get_environ()
        self.application = server.application
        self.socket.settimeout(server.body_timeout)
        self.handle_one_response()
        self.served += 1
        return None if self.close_connection or self.rfile.closed else True

    def _read_head(self):
        """True when the request line and headers were read; None when the client left before
        sending them; otherwise the LMSError to answer."""
        line = self.rfile.readline(MAX_REQUEST_LINE + 1)
        self.requestline = line.decode("latin-1")
        if len(line) > MAX_REQUEST_LINE:
            return Refused(414, "uri_too_long", f"The request line is longer than {MAX_REQUEST_LINE} bytes")
        if not line.endswith(b"\n"):
            return None
        try:
            self.read_request(self.requestline)
        except _HeadersTooLarge as exc:
            return Refused(431, "headers_too_large", str(exc))
        except (OSError, _SlowHead):
            raise
        except Exception:  # gevent's verdict on a malformed request line or header
            return Refused(400, "bad_request", "The request line or headers are malformed")
        return True

    def get_environ(self):
        environ = super().get_environ()
        plain = self.wsgi_input
        if environ["wsgi.input"] is plain:  # not an upgraded connection, which reads the socket itself
            self.wsgi_input = environ["wsgi.input"] = Body(plain.rfile, plain.content_length, socket=plain.socket,
                                                            chunked_input=plain.chunked_input)
        return environ

    def MessageClass(self, fp, *args):
        """The headers, read within the limits before gevent parses them."""
        lines, size = [], 0
        while True:
            line = fp.readline(MAX_HEADER_LINE + 1)
            size += len(line)
            if not line:
                raise ConnectionAbortedError("the client left in the middle of its headers")
            if len(line) > MAX_HEADER_LINE:
                raise _HeadersTooLarge(f"A header line is longer than {MAX_HEADER_LINE} bytes")
            if line in (b"\r\n", b"\n"):
                return headers_factory(io.BytesIO(b"".join(lines) + b"\r\n"))
            if size > MAX_HEADER_BYTES or len(lines) >= MAX_HEADERS:
                raise _HeadersTooLarge(f"The headers are larger than {MAX_HEADER_BYTES} bytes or "
                                       f"{MAX_HEADERS} lines")
            lines.append(line)

    def _refuse(self, error):
        """Answer ``error`` through the app (as JSON on /api/), then close the connection."""
        words = self.requestline.split(" ", 2)
        method = words[0][:16] if words[0] else "GET"
        path = words[1].split("?", 1)[0][:200] if len(words) > 1 else "/"
        self.command, self.request_version, self.close_connection = method, "HTTP/1.1", True
        self.wsgi_input = Input(io.BytesIO(), 0)
        self.environ = environ = self.server.get_environ()
        environ.update({"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1",
                        "REMOTE_ADDR": str(self.client_address[0]), "wsgi.input": self.wsgi_input,
                        "lms.refused": error})
        self.application = self.server.application
        self.handle_one_response()

    def start_response(self, status, headers, exc_info=None):
        # 408 and 413 end the connection (RFC 9110 15.5.9, 15.5.14): the body is not read on.
        if self.close_connection or status[:3] in ("408", "413") or self._body_left_unread():
            self.close_connection = True
            headers = [*headers, ("Connection", "close")]
            if self.wsgi_input is not None:  # tells gevent's handler not to read the rest to discard it
                self.wsgi_input._chunked_input_error = True
        return super().start_response(status, headers, exc_info)

    def _body_left_unread(self):
        body = self.wsgi_input
        if body is None:
            return False
        if body.chunked_input:
            return body.chunk_length != 0  # 0 once the last chunk was read
        return (body.content_length or 0) - body.position > DRAIN_BYTES


class Server(WSGIServer):
    handler_class = Handler
    # gevent's 128 overflows under a burst of connections (200 at once): the kernel then drops
    # the newcomers' SYNs and they retry after a second. Past the cap they are answered 503 anyway.
    backlog = 1024

    def __init__(self, listener, application, *, header_timeout=10.0, body_timeout=30.0, keepalive_timeout=75.0,
                 max_connections=1000):
        # A pool, not bare greenlets: stop() can then wait for the requests in flight.
        super().__init__(listener, application, log=None, spawn=gevent.pool.Pool())
        self.header_timeout, self.body_timeout = header_timeout, body_timeout
        self.keepalive_timeout, self.max_connections = keepalive_timeout, max_connections

    def handle(self, sock, address):
        # pywsgi sends headers and body in two writes; with Nagle on, every keep-alive response
        # waits ~40 ms for the delayed ACK (DESIGN §8: 23 -> 4,000 req/s).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if len(self.pool) > self.max_connections:  # this connection's greenlet is in the pool too
            try:
                sock.sendall(BUSY)
                sock.shutdown(socket.SHUT_WR)  # the answer, then the end, before the close
            except OSError:
                pass
            return None
        return super().handle(sock, address)


def serve(app, host, port, *, on_stopping=(), on_stop=(), stop_timeout=10, **limits):
    """Serve until SIGTERM or SIGINT; then run ``on_stopping`` (end the requests that never end
    by themselves: event streams), stop accepting, let in-flight requests finish (up to
    ``stop_timeout`` seconds) and run ``on_stop`` callables in order. ``limits`` are
    ``Server``'s timeouts and connection cap."""
    server = Server((host, port), app, **limits)
    try:
        server.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(f"port {port} on {host} is already in use (set PORT to another)") from None
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    log.info("listening on http://%s:%s", host, server.server_port)
    stopping = gevent.event.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stopping.set)
    stopping.wait()
    log.info("stopping: finishing in-flight requests")
    for callback in on_stopping:
        callback()
    server.stop(timeout=stop_timeout)
    for callback in on_stop:
        callback()
    log.info("stopped")
