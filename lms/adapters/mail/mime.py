"""Building one e-mail message, the same for every transport."""
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from ...errors import MailError


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
