"""What every loopback double shares: a threaded HTTP server on 127.0.0.1 that can be stopped
and started again on the same port (a service "going down and coming back"), and a request
handler that answers bytes or JSON and keeps quiet."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    double = None  # the LoopbackDouble this handler serves

    def answer(self, status, data, content_type, headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def answer_json(self, status, payload, headers=None):
        self.answer(status, json.dumps(payload).encode(), "application/json", headers)

    def log_message(self, *args):
        pass


class LoopbackDouble:
    handler = None  # a BaseHTTPRequestHandler subclass; it reaches the double as ``self.double``
    _server = None
    _port = 0

    @property
    def port(self):
        return self._port

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self._port}"

    def start(self):
        handler = type("Handler", (self.handler,), {"double": self})  # one class per double
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), handler)
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        # stop() waits for the serving loop to look at its flag, which it does once per poll
        # interval: the default half second would be spent on every test that uses a double.
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True,
                         name=type(self).__name__).start()
        return self

    def stop(self):
        if self._server:
            self.before_stop()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def before_stop(self):
        """Release anything a handler may be waiting on."""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
