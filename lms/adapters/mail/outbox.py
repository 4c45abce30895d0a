"""Mail as files: the development transport."""
import secrets
from datetime import datetime, timezone
from pathlib import Path

from ...errors import MailError
from ..disk import write_atomically
from .mime import compose


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
