"""Outgoing mail: one ``send`` interface, two transports chosen by configuration.

``Outbox`` (no ``LMS_SMTP_URL``) writes each message as an ``.eml`` file under
``DATA_DIR/outbox``, so development needs no mail server and tests read real messages.
``SMTP`` delivers through ``smtp://`` or ``smtps://`` with smtplib, which gevent makes
cooperative. Both build the same ``EmailMessage``: a text part, an optional HTML alternative,
attachments, a Message-ID and a Date.

Every failure, including a message that cannot be built, raises ``MailError``. Its text
names the host and what went wrong but never the password, since it ends up in logs and in
``certificates.emailStatus``-like fields that admins read.
"""
import secrets
import smtplib
import ssl
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from .files import write_atomically

TIMEOUT_SECONDS = 15


class MailError(Exception):
    """A message could not be built or delivered; the text is safe to log."""


def mailer(settings):
    """The transport ``settings`` choose: SMTP when ``smtp_url`` is set, else the outbox."""
    if settings.smtp_url:
        return SMTP(settings.smtp_url, settings.mail_from)
    return Outbox(Path(settings.data_dir) / "outbox", settings.mail_from)


def compose(sender, to, subject, text, html=None, attachments=()):
    """An ``EmailMessage``; ``to`` is one address or a list; attachments are
    ``(filename, bytes, mimetype)``. Header injection (a newline in a header) is a MailError."""
    try:
        message = EmailMessage()
        message["From"] = sender
        message["To"] = to if isinstance(to, str) else ", ".join(to)
        message["Subject"] = subject
        message["Date"] = formatdate(usegmt=True)
        # make_msgid() without a domain asks DNS for this host's name; the sender's domain is
        # known, free, and what receiving servers expect.
        message["Message-ID"] = make_msgid(domain=_domain_of(sender))
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
        for filename, data, mimetype in attachments:
            maintype, _, subtype = (mimetype or "application/octet-stream").partition("/")
            message.add_attachment(bytes(data), maintype=maintype, subtype=subtype or "octet-stream",
                                   filename=filename)
        return message
    except (ValueError, TypeError) as exc:
        raise MailError(f"cannot build the message: {exc}") from None


def _domain_of(sender):
    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or "localhost"


class Outbox:
    """Messages as files: ``<UTC timestamp>-<random>.eml``, each written to a temporary name
    and renamed, so a reader (or a crash) never sees half a message."""

    def __init__(self, directory, sender):
        self.directory = Path(directory)
        self.sender = sender

    def send(self, to, subject, text, html=None, attachments=()):
        """Write the message; returns the path of its ``.eml`` file."""
        message = compose(self.sender, to, subject, text, html, attachments)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.directory / f"{stamp}-{secrets.token_hex(4)}.eml"
        try:
            write_atomically(path, message.as_bytes())
        except OSError as exc:
            raise MailError(f"cannot write to the outbox {self.directory}: {exc.strerror or exc}") from None
        return path

    def messages(self):
        """Paths of the delivered messages, oldest first (their names sort by time)."""
        return sorted(self.directory.glob("*.eml")) if self.directory.exists() else []


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
