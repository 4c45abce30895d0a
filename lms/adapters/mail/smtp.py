"""Delivery through an SMTP server."""
import smtplib
import ssl
from urllib.parse import parse_qs, unquote, urlsplit

from ...errors import MailError
from .mime import compose

TIMEOUT_SECONDS = 15


class SMTP:
    """Delivery through an SMTP server, one connection per message.

    The URL is ``smtp://user:pass@host:port?starttls=1`` or ``smtps://...`` (TLS from the
    first byte). User and password are URL-decoded. Default ports: 465 for smtps, 587 for
    smtp with STARTTLS, else 25. STARTTLS is on when ``starttls=1`` or, when the URL does not
    say, when the port is 587 (submission always offers it). Login happens only when a user is
    given. Certificates are verified with the system's trust store.
    """

    def __init__(self, url, sender, timeout=TIMEOUT_SECONDS):
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise MailError("LMS_SMTP_URL must look like smtp://user:pass@host:587?starttls=1")
        try:
            port = parts.port
        except ValueError:
            raise MailError("LMS_SMTP_URL has an invalid port") from None
        query = parse_qs(parts.query)
        self.host = parts.hostname
        self.ssl = parts.scheme == "smtps"
        starttls = query.get("starttls", [""])[0].lower()
        self.port = port or (465 if self.ssl else 587 if starttls in ("1", "true", "yes") else 25)
        self.starttls = not self.ssl and (starttls in ("1", "true", "yes") if starttls else self.port == 587)
        self.user = unquote(parts.username or "")
        self._password = unquote(parts.password or "")
        self.sender = sender
        self.timeout = timeout

    def __repr__(self):
        return f"SMTP({self.host}:{self.port}, user={self.user!r})"

    def send(self, to, subject, text, html=None, attachments=()):
        """Deliver the message; returns its Message-ID."""
        message = compose(self.sender, to, subject, text, html, attachments)
        try:
            with self._connect() as server:
                if self.user:
                    server.login(self.user, self._password)
                server.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"SMTP {self.host}:{self.port}: {self._describe(exc)}") from None
        return message["Message-ID"]

    def _connect(self):
        context = ssl.create_default_context()
        if self.ssl:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        server = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.starttls:
                server.starttls(context=context)
        except BaseException:
            server.close()
            raise
        return server

    def _describe(self, exc):
        if isinstance(exc, smtplib.SMTPResponseException):
            reply = exc.smtp_error
            detail = f"{exc.smtp_code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
        else:
            detail = str(exc) or type(exc).__name__
        detail = f"{type(exc).__name__}: {detail}"
        # A server could echo what it was sent; the password never leaves this object.
        if self._password:
            detail = detail.replace(self._password, "***")
        return detail
