"""Logging as one JSON object per line on stdout, and optional error reporting to Sentry.

Decisions:
- A line logged while a request is being handled carries that request's ``requestId`` (and
  ``userId`` once known) as fields, taken from the request's WSGI environ, so an error line can
  be joined with its access line and with the ``X-Request-Id`` a user reports, without every
  ``log.error`` call having to pass them. Outside a request (the worker, start-up) there is none.
- ``SENTRY_DSN`` turns on ``sentry-sdk`` if it is installed; it is deliberately not a
  requirement (``requirements-sentry.txt`` pins it). Errors reach Sentry through its logging
  integration (every ``log.exception`` / ``log.error``, which is how ``lms.web`` reports an
  unexpected failure), once each, tagged with the request id. ``scrub`` runs on every event before it leaves: the user is reduced to their id;
  request bodies, cookies, the client address and the local variables of stack frames are
  dropped (a raw body holds the password of a login; the SDK is also told not to collect
  them); and values under names such as token, password, secret, cookie or signature are
  replaced wherever they still appear (headers, query string, breadcrumbs, extras, contexts),
  as are JWT-shaped strings inside any text.
"""
import contextvars
import json
import logging
import re
import sys
import time
from urllib.parse import parse_qsl, urlencode

log = logging.getLogger("lms.logs")
FILTERED = "[Filtered]"
SENSITIVE = re.compile(r"pass(word|wd)?|token|secret|cookie|authori[sz]ation|csrf|xsrf|session|"
                       r"signature|api[-_]?key|credential|dsn", re.I)
JWT = re.compile(r"eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*")
# The WSGI environ of the request this greenlet is handling (each greenlet has its own context).
_REQUEST = contextvars.ContextVar("lms_request", default=None)


def bind(environ):
    """From now on, log lines of this greenlet carry this request's id and user id."""
    _REQUEST.set(environ)


def unbind():
    _REQUEST.set(None)


def request_context():
    """``{"requestId", "userId"}`` of the request this greenlet is handling, or ``{}``."""
    environ = _REQUEST.get()
    if environ is None:  # not in a request: the worker, start-up
        return {}
    found = {"requestId": environ.get("lms.request_id"), "userId": environ.get("lms.user_id")}
    return {k: v for k, v in found.items() if v}


def record(logger, fields):
    """Log ``fields`` at INFO as one line, the way ``logger.info`` would, without its search of the
    stack for the caller (no line of ours names its source): the access line of every request."""
    if logger.isEnabledFor(logging.INFO):
        logger.handle(logger.makeRecord(logger.name, logging.INFO, "", 0, "request", None, None,
                                        extra={"fields": fields}))


class JsonFormatter(logging.Formatter):
    """One JSON object per record. Every request writes an access line, so what is the same
    from line to line is made once: the time up to its second (once a second), the level and
    logger part (once per logger and level), and the encoder; only the record's own fields are
    encoded for each line."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clock = (None, "")  # (second, its text): one tuple, so threads never see a mixed pair
        self._middles = {}  # (logger, level) -> '"level":"info","logger":"lms.access"'

    def format(self, record):
        second, stamp = self._clock
        if second != int(record.created):
            second = int(record.created)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._clock = (second, stamp)
        middle = self._middles.get((record.name, record.levelno))
        if middle is None:
            middle = self._middles[(record.name, record.levelno)] = _encode(
                {"level": record.levelname.lower(), "logger": record.name})[1:-1]
        fields = getattr(record, "fields", None) or {"message": record.getMessage()}
        added = {k: v for k, v in request_context().items() if k not in fields}
        if added or record.exc_info:
            fields = {**fields, **added}
            if record.exc_info:
                fields["exception"] = self.formatException(record.exc_info)
        return f'{{"time":"{stamp}.{int(record.msecs):03d}Z",{middle},{_encode(fields)[1:]}'


_encode = json.JSONEncoder(separators=(",", ":"), default=str).encode


def configure(level="INFO"):
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # No line shows a thread or process name, so no record looks them up.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    for noisy in ("pymongo", "urllib3", "schedule"):
        logging.getLogger(noisy).setLevel("WARNING")


def report_errors(settings):
    """Start Sentry error reporting when ``SENTRY_DSN`` is set; True when it started."""
    if not settings.sentry_dsn:
        return False
    try:
        import sentry_sdk
    except ImportError:
        log.warning("SENTRY_DSN is set but sentry-sdk is not installed: errors are only logged "
                    "(pip install sentry-sdk to report them)")
        return False
    from . import __version__
    # Only the integrations that are always on (logging, uncaught exceptions, de-duplication,
    # breadcrumbs of outgoing HTTP calls), none that is switched on because a library is
    # installed: the pymongo one would send queries (e-mail addresses among them), and our
    # plugin catches every error a web framework integration could report, so it would add
    # nothing but a second copy of the request.
    sentry_sdk.init(dsn=settings.sentry_dsn, environment=settings.env, release=f"lms@{__version__}",
                    auto_enabling_integrations=False, send_default_pii=False, max_request_body_size="never",
                    include_local_variables=False, before_send=scrub,
                    before_breadcrumb=lambda crumb, hint: _clean(crumb))
    return True


def scrub(event, hint=None):
    """The event without secrets or personal data beyond the user id, tagged with the request id."""
    context = request_context()
    request = event.get("request")
    if isinstance(request, dict):
        for personal in ("cookies", "data", "env"):  # env holds the client's address
            request.pop(personal, None)
        if isinstance(request.get("query_string"), str):
            pairs = parse_qsl(request["query_string"], keep_blank_values=True)
            request["query_string"] = urlencode(
                [(k, FILTERED if SENSITIVE.search(k) else v) for k, v in pairs])
    for exception in (event.get("exception") or {}).get("values") or []:
        for frame in (exception.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    user_id = (event.pop("user", None) or {}).get("id") or context.get("userId")
    if user_id:
        event["user"] = {"id": user_id}
    if context.get("requestId"):
        event.setdefault("tags", {})["request_id"] = context["requestId"]
    return _clean(event)


def _clean(value):
    """Recursively replace values under sensitive keys, and JWT-shaped text."""
    if isinstance(value, dict):
        return {k: FILTERED if isinstance(k, str) and SENSITIVE.search(k) and value[k] not in (None, "")
                else _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        # Headers come as [name, value] pairs in some SDK versions.
        if len(value) == 2 and isinstance(value[0], str) and SENSITIVE.search(value[0]):
            return [value[0], FILTERED]
        return [_clean(v) for v in value]
    if isinstance(value, str):
        return JWT.sub(FILTERED, value)
    return value
