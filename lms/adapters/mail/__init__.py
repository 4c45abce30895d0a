"""Outgoing mail: one ``send`` interface, two transports chosen by configuration.

``Outbox`` (no ``LMS_SMTP_URL``) writes each message as an ``.eml`` file under
``DATA_DIR/outbox``, so development needs no mail server and tests read real messages.
``SMTP`` delivers through ``smtp://`` or ``smtps://`` with smtplib, which gevent makes
cooperative. Both build the same ``EmailMessage``: a text part, an optional HTML alternative,
attachments, a Message-ID and a Date.

Nothing else talks to a transport: domain code queues a message (``queue.enqueue``), rendered
from its templates under ``views/mail/`` (``messages.render``), and the worker delivers it.

Every failure, including a message that cannot be built, raises ``MailError``. Its text
names the host and what went wrong but never the password, since it ends up in logs and in
``certificates.emailStatus``-like fields that admins read.
"""
from pathlib import Path

from .outbox import Outbox
from .smtp import SMTP


def open_mailer(settings):
    """The transport ``settings`` choose: SMTP when ``smtp_url`` is set, else the outbox."""
    if settings.smtp_url:
        return SMTP(settings.smtp_url, settings.mail_from)
    return Outbox(Path(settings.data_dir) / "outbox", settings.mail_from)
