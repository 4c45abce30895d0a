"""Mail transports against real receivers: files parsed back with ``email``, and a real
SMTP server (aiosmtpd) that demands AUTH."""
import email
import email.policy
import time

import pytest

from lms.adapters.mail import SMTP, Outbox, open_mailer as mailer
from lms.db import free_port
from lms.errors import MailError
from support.doubles.smtp import PASSWORD, PASSWORD_IN_URL, USER

SENDER = "LMS <no-reply@lms.test>"
PDF = b"%PDF-1.4 fake certificate\n%%EOF"


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_the_outbox_is_the_default_and_smtp_takes_over_when_configured(make_settings):
    outbox = mailer(make_settings())
    assert isinstance(outbox, Outbox)
    assert outbox.directory == make_settings().data_dir / "outbox"
    smtp = mailer(make_settings(LMS_SMTP_URL="smtps://u:p@mail.example.com", LMS_MAIL_FROM="x@example.com"))
    assert isinstance(smtp, SMTP) and (smtp.host, smtp.port, smtp.ssl) == ("mail.example.com", 465, True)


def test_the_outbox_writes_one_parseable_eml_per_message(tmp_path):
    outbox = Outbox(tmp_path / "outbox", SENDER)
    path = outbox.send("Zoë <zoe@example.com>", "Your certificate — MERN Bootcamp",
                       "Hello Zoë,\nyour certificate is attached.", html="<p>Hello Zoë</p>",
                       attachments=[("CERT-ABC.pdf", PDF, "application/pdf")])
    second = outbox.send(["a@example.com", "b@example.com"], "Second", "Two")

    assert path.suffix == ".eml" and path.parent == tmp_path / "outbox"
    assert outbox.messages() == [path, second]
    assert not list((tmp_path / "outbox").glob(".*")), "no temporary file is left behind"
    message = parse(path.read_bytes())
    assert message["To"] == "Zoë <zoe@example.com>"
    assert message["From"] == SENDER
    assert message["Subject"] == "Your certificate — MERN Bootcamp"
    assert message["Message-ID"].endswith("@lms.test>") and message["Date"]
    assert "your certificate is attached" in message.get_body(("plain",)).get_content()
    assert "<p>Hello Zoë</p>" in message.get_body(("html",)).get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "CERT-ABC.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF
    assert parse(second.read_bytes())["To"] == "a@example.com, b@example.com"


def test_a_header_with_a_newline_is_refused_not_injected(tmp_path):
    outbox = Outbox(tmp_path, SENDER)
    with pytest.raises(MailError):
        outbox.send("a@example.com", "Hi\r\nBcc: victim@example.com", "body")
    assert outbox.messages() == []


def test_smtp_url_defaults():
    assert (SMTP("smtp://h", SENDER).port, SMTP("smtp://h", SENDER).starttls) == (25, False)
    assert (SMTP("smtp://h?starttls=1", SENDER).port, SMTP("smtp://h?starttls=1", SENDER).starttls) == (587, True)
    assert SMTP("smtp://h:587", SENDER).starttls is True
    assert SMTP("smtp://h:587?starttls=0", SENDER).starttls is False
    smtps = SMTP(f"smtps://{USER}:{PASSWORD_IN_URL}@h", SENDER)
    assert (smtps.port, smtps.starttls, smtps.user) == (465, False, USER)
    assert PASSWORD not in repr(smtps)
    with pytest.raises(MailError):
        SMTP("http://h", SENDER)


def test_smtp_logs_in_and_delivers_the_message(smtp_server):
    message_id = SMTP(smtp_server.url, SENDER).send(
        "student@example.com", "Certificate", "Well done.", html="<b>Well done.</b>",
        attachments=[("CERT-ABC.pdf", PDF, "application/pdf")])

    assert smtp_server.logins == [USER]
    [(mail_from, rcpt_tos, raw)] = smtp_server.messages
    assert (mail_from, rcpt_tos) == ("no-reply@lms.test", ["student@example.com"])
    message = parse(raw)
    assert message["Message-ID"] == message_id
    assert message["Subject"] == "Certificate"
    assert message.get_body(("plain",)).get_content().strip() == "Well done."
    assert [a.get_content() for a in message.iter_attachments()] == [PDF]


def test_a_wrong_password_is_a_mail_error_that_does_not_reveal_the_password(smtp_server):
    url = smtp_server.url.replace(PASSWORD_IN_URL, "wrong%2Fsecret-9731")
    with pytest.raises(MailError) as caught:
        SMTP(url, SENDER).send("student@example.com", "Certificate", "Well done.")
    assert "535" in str(caught.value)
    assert "wrong/secret-9731" not in str(caught.value) and "wrong%2Fsecret-9731" not in str(caught.value)
    assert smtp_server.messages == []


def test_nothing_listening_is_a_mail_error_quickly():
    url = f"smtp://{USER}:{PASSWORD_IN_URL}@127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(MailError) as caught:
        SMTP(url, SENDER).send("student@example.com", "Certificate", "Well done.")
    assert time.monotonic() - started < 5
    assert "127.0.0.1" in str(caught.value)
    assert PASSWORD not in str(caught.value) and PASSWORD_IN_URL not in str(caught.value)
