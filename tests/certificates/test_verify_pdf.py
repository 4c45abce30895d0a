"""Verify by PDF: an employer holding only the file uploads it; the answer is whether it is
exactly (byte for byte, by SHA-256) one of our certificates, and that certificate's status."""
import pytest

from lms.routes.certificates import MAX_UPLOAD_BYTES
from support.app import browser, post_bytes
from support.certificates import drain, stored_pdf
from support.factories import PNG, TEXT, create_course, issued_certificate

URL = "/api/certificates/verify-pdf"


def verify(client, content, status=200, name="certificate.pdf"):
    return client.post(URL, upload_files=[("file", name, content)], status=status)


def snapshot(db):
    return list(db.certificates.find()), db.auditLogs.count_documents({})


def test_the_real_pdf_matches_its_certificate(client, db, settings):
    cert = issued_certificate(db, settings, course=create_course(db, title="MERN Bootcamp"), name="Amit Kumar")
    answer = verify(client, stored_pdf(settings, cert)).json
    assert answer["ok"] is True and answer["match"] is True
    shown, lookup = answer["certificate"], client.get(f"/api/certificates/{cert['certId']}").json
    assert shown == lookup["certificate"] == {k: v for k, v in lookup.items() if k not in ("ok", "certificate")}
    assert (shown["certId"], shown["status"], shown["hash"]) == (cert["certId"], "active", cert["hash"])
    assert (shown["student"]["name"], shown["course"]["title"]) == ("Amit Kumar", "MERN Bootcamp")


@pytest.mark.parametrize("alter", [
    lambda pdf: pdf[:-1],
    lambda pdf: pdf[: len(pdf) // 2],
    lambda pdf: pdf[:1000] + bytes([pdf[1000] ^ 0x01]) + pdf[1001:],
    lambda pdf: pdf + b"\n",
], ids=["last-byte-cut", "truncated-half", "one-bit-flipped", "one-byte-appended"])
def test_an_altered_pdf_does_not_match(client, db, settings, alter):
    cert = issued_certificate(db, settings)
    pdf = stored_pdf(settings, cert)
    altered = alter(pdf)
    assert altered != pdf and altered.startswith(b"%PDF-")
    assert verify(client, altered).json == {"ok": True, "match": False}


def test_a_revoked_certificates_pdf_matches_and_says_revoked(signed_in, client, db, settings):
    cert = issued_certificate(db, settings)
    signed_in("admin").post_json(f"/api/admin/certificates/{cert['certId']}/revoke", {"reason": "Fraud"})
    shown = verify(client, stored_pdf(settings, cert)).json["certificate"]
    assert (shown["status"], shown["revokeReason"], shown["share"]) == ("revoked", "Fraud", None)


def test_after_a_re_issue_only_the_new_pdf_matches(signed_in, client, db, settings):
    cert = issued_certificate(db, settings)
    old_pdf = stored_pdf(settings, cert)
    signed_in("admin").post_json(f"/api/admin/certificates/{cert['certId']}/issue", {})
    drain(db, settings)
    new = db.certificates.find_one({"_id": cert["_id"]})
    assert new["hash"] != cert["hash"]
    assert verify(client, old_pdf).json["match"] is False
    assert verify(client, stored_pdf(settings, new)).json["certificate"]["hash"] == new["hash"]


def test_anyone_may_upload_even_with_a_session_and_no_csrf_header(signed_in, db, settings):
    cert = issued_certificate(db, settings)
    visitor = signed_in("student")
    del visitor.extra_environ["HTTP_X_XSRF_TOKEN"]  # nothing changes, so nothing to forge
    assert verify(visitor, stored_pdf(settings, cert)).json["match"] is True


@pytest.mark.parametrize("name, content, code", [
    ("empty.pdf", b"", "empty_file"),
    ("notes.pdf", TEXT, "not_a_pdf"),
    ("photo.pdf", PNG, "not_a_pdf"),
])
def test_an_empty_or_non_pdf_upload_is_400(client, db, settings, name, content, code):
    issued_certificate(db, settings)
    before = snapshot(db)
    error = verify(client, content, status=400, name=name).json["error"]
    assert error["code"] == code and error["fields"] == {"file": error["fields"]["file"]}
    assert snapshot(db) == before


def test_the_file_field_is_required_and_only_one(client, db, settings):
    pdf = stored_pdf(settings, issued_certificate(db, settings))
    error = client.post(URL, {"other": "x"}, upload_files=[("document", "a.pdf", pdf)], status=400).json["error"]
    assert (error["code"], error["fields"]) == ("validation_error", {"file": "is required"})
    two = client.post(URL, upload_files=[("file", "a.pdf", pdf), ("file", "b.pdf", pdf)], status=400)
    assert two.json["error"]["fields"] == {"file": "give one file at a time"}


@pytest.mark.parametrize("content_type, body, status, code", [
    ("application/pdf", b"%PDF-1.4\n", 415, "unsupported_media_type"),
    ("application/json", b'{"file": "x"}', 415, "unsupported_media_type"),
    ("multipart/form-data", b"--x\r\n", 400, "invalid_multipart"),
    ("multipart/form-data; boundary=x", b"no boundary here", 400, "invalid_multipart"),
    ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="file"\r\n\r\n%PDF-1', 400,
     "invalid_multipart"),
], ids=["raw-pdf", "json", "no-boundary", "boundary-missing-from-body", "unterminated"])
def test_bodies_that_are_not_a_well_formed_multipart_upload(client, db, content_type, body, status, code):
    assert post_bytes(client, URL, body, content_type, status).json["error"]["code"] == code


def test_an_upload_over_5_mb_is_413_and_one_at_the_limit_is_read(client, db, settings):
    cert = issued_certificate(db, settings)
    pdf = stored_pdf(settings, cert)
    padded = pdf + b"\0" * (MAX_UPLOAD_BYTES - len(pdf))
    too_big = verify(client, padded, status=413).json["error"]  # the multipart framing tips it over
    assert too_big["code"] == "payload_too_large"
    fits = pdf + b"\0" * (MAX_UPLOAD_BYTES - len(pdf) - 400)
    assert verify(client, fits).json == {"ok": True, "match": False}


def test_uploads_are_rate_limited_per_ip(client, db, settings):
    pdf = stored_pdf(settings, issued_certificate(db, settings))
    for _ in range(30):
        verify(client, pdf)
    limited = verify(client, pdf, status=429)
    assert limited.json["error"]["code"] == "rate_limited" and int(limited.headers["Retry-After"]) >= 1
    verify(client, b"", status=429)  # refused before the body is looked at
    other = browser(client.app)
    other.extra_environ["REMOTE_ADDR"] = "198.51.100.9"
    assert verify(other, pdf).json["match"] is True
    assert client.get(f"/api/certificates/{db.certificates.find_one()['certId']}").json["ok"]  # its own limit
