"""Serving: gevent's WSGI server, tuned, with a graceful stop."""
import errno
import logging
import signal
import socket

import gevent
import gevent.event
import gevent.pool
from gevent.pywsgi import WSGIServer

log = logging.getLogger("lms.server")
MAX_CONNECTIONS = 10000


class StartupError(Exception):
    pass


class Server(WSGIServer):
    def handle(self, sock, address):
        # pywsgi sends headers and body in two writes; with Nagle on, every keep-alive response
        # waits ~40 ms for the delayed ACK (DESIGN §8: 23 -> 4,000 req/s).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return super().handle(sock, address)


def serve(app, host, port, *, on_stopping=(), on_stop=(), stop_timeout=10):
    """Serve until SIGTERM or SIGINT; then run ``on_stopping`` (end the requests that never end
    by themselves: event streams), stop accepting, let in-flight requests finish (up to
    ``stop_timeout`` seconds) and run ``on_stop`` callables in order."""
    # A pool, not bare greenlets: stop() can then wait for the requests in flight.
    server = Server((host, port), app, log=None, spawn=gevent.pool.Pool(MAX_CONNECTIONS))
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
