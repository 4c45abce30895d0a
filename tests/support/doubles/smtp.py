"""A real SMTP server (aiosmtpd) on loopback that keeps what arrived and who logged in.

By default it demands AUTH, and accepts only ``USER`` with ``PASSWORD``; ``url`` is the
LMS_SMTP_URL that logs in with them. The password holds every character URL-encoding must
handle, so ``url`` carries it encoded (``PASSWORD_IN_URL``).

    with SmtpDouble() as server:                  # or the ``smtp_server`` fixture
        settings = make_settings(LMS_SMTP_URL=server.url)
        ...
        server.messages   # [(MAIL FROM, [RCPT TO...], raw bytes)] of every message received
        server.logins     # the user name of every AUTH attempt

    SmtpDouble(port=port, auth=False)             # no AUTH, on a port chosen beforehand
"""
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from lms.db import free_port

USER = "mailer@lms.test"
PASSWORD = "s3cr:t/p@ss%word"  # every character URL-encoding must handle
PASSWORD_IN_URL = "s3cr%3At%2Fp%40ss%25word"


class SmtpDouble:
    def __init__(self, port=None, auth=True):
        self.port = port or free_port()
        self.auth = auth
        self.messages = []
        self.logins = []
        self._controller = None

    @property
    def url(self):
        return f"smtp://{USER}:{PASSWORD_IN_URL}@127.0.0.1:{self.port}?starttls=0"

    def start(self):
        # Plain text on loopback on purpose (aiosmtpd warns about AUTH without TLS: pytest.ini).
        login = dict(authenticator=self, auth_required=True, auth_require_tls=False) if self.auth else {}
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **login)
        self._controller.start()
        return self

    def stop(self):
        if self._controller:
            self._controller.stop()
            self._controller = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # aiosmtpd calls these: the authenticator, and the handler of a message's data.

    def __call__(self, server, session, envelope, mechanism, auth_data):
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append(login)
        # handled=False: aiosmtpd then answers 535 itself (the default means "I replied").
        return AuthResult(success=(login, password) == (USER, PASSWORD), handled=False)

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server():
    """A running SmtpDouble that demands AUTH, stopped after the test."""
    with SmtpDouble() as server:
        yield server
