"""The offline verifier, ``python lms.py verify-credential``, against a live server's keys and
status endpoint: exit 0 only for VALID; 1 INVALID, 2 EXPIRED, 3 REVOKED, 4 UNKNOWN-STATUS (the
status endpoint could not be read); ``--offline`` skips the status and says so. It reads the
credential from its JSON, the JWT, or the certificate's own PDF or PNG."""
import base64
import json

import pytest

from lms import audit
from lms.certificates import baking, records
from lms.config import _new_signing_key
from lms.db import free_port
from support.app import adapters
from support.certificates import stored_pdf
from support.factories import create_course, issued_certificate
from support.live import Service, call

ADMIN = audit.Actor("6b0945565aa2d2a131c155a9", "admin")


@pytest.fixture
def issuer(live_server, make_settings):
    """(a live server whose public URL is its own, settings that issue certificates as it does)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = make_settings(LMS_PUBLIC_URL=url)
    server = live_server(PORT=str(port), LMS_PUBLIC_URL=url, LMS_SIGNING_KEY=settings.signing_key)
    return server, settings


def cli(tmp_path, *args):
    return Service(tmp_path / "cli", "verify-credential", *map(str, args)).run()


def saved(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def test_a_valid_credential_is_valid_and_a_tampered_or_foreign_one_invalid(issuer, db, tmp_path):
    server, settings = issuer
    cert = issued_certificate(db, settings, name="Amit Kumar", course=create_course(db, title="MERN Bootcamp"))
    _, answer, _ = call("GET", f"{server.url}/api/certificates/{cert['certId']}/credential")
    jwks = f"{server.url}/.well-known/jwks.json"

    code, out, err = cli(tmp_path, saved(tmp_path, "credential.json", json.dumps(answer)), "--jwks", jwks)
    assert code == 0, err
    assert out.startswith("VALID: Amit Kumar completed MERN Bootcamp, issued by LMS on ")
    assert f"status active at {server.url}/api/certificates/{cert['certId']}/status" in out

    head, payload, signature = answer["jwt"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["credentialSubject"]["name"] = "Someone Else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    code, out, err = cli(tmp_path, saved(tmp_path, "t.jwt", f"{head}.{forged}.{signature}"), "--jwks", jwks)
    assert code == 1 and err.startswith("INVALID: signature") and "Someone Else" not in out

    other = adapters(settings.replace(signing_key=_new_signing_key())).keyring.jwks()
    code, out, err = cli(tmp_path, saved(tmp_path, "c.jwt", answer["jwt"] + "\n"), "--jwks",
                         saved(tmp_path, "other.json", json.dumps(other)))
    assert code == 1 and "no published key" in err


def test_a_revoked_credential_is_revoked_offline_says_so_and_no_status_is_unknown(issuer, db, tmp_path):
    server, settings = issuer
    cert = issued_certificate(db, settings)
    _, answer, _ = call("GET", f"{server.url}/api/certificates/{cert['certId']}/credential")
    jwt = saved(tmp_path, "c.jwt", answer["jwt"])
    jwks = saved(tmp_path, "jwks.json", json.dumps(call("GET", f"{server.url}/.well-known/jwks.json")[1]))
    records.revoke(db, cert["certId"], "Plagiarised project", ADMIN)

    code, out, err = cli(tmp_path, jwt, "--jwks", jwks)
    assert (code, out.split(":")[0]) == (3, "REVOKED"), err
    assert "status revoked at" in out

    code, out, _ = cli(tmp_path, jwt, "--jwks", jwks, "--offline")
    assert code == 0 and out.startswith("VALID: ") and "status not checked (--offline)" in out

    server.stop()  # the issuer cannot be reached: the signature holds, the status is unknown
    code, out, _ = cli(tmp_path, jwt, "--jwks", jwks)
    assert code == 4 and out.startswith("UNKNOWN-STATUS: ") and "could not be read" in out


def test_the_certificate_pdf_and_png_verify_on_their_own(issuer, db, tmp_path):
    server, settings = issuer
    cert = issued_certificate(db, settings, name="प्रिया शर्मा", course=create_course(db, title="MERN Bootcamp"))
    jwks = saved(tmp_path, "jwks.json", json.dumps(call("GET", f"{server.url}/.well-known/jwks.json")[1]))
    storage = adapters(settings).storage
    pdf, png = stored_pdf(settings, cert), storage.get(f"certificates/{cert['certId']}.png")
    for name, data in (("certificate.pdf", pdf), ("certificate.png", png)):
        code, out, err = cli(tmp_path, saved(tmp_path, name, data), "--jwks", jwks)
        assert code == 0 and out.startswith("VALID: प्रिया शर्मा completed MERN Bootcamp"), (name, err)
    assert baking.extract(pdf) == baking.extract(png)
    code, _, err = cli(tmp_path, saved(tmp_path, "other.pdf", b"%PDF-1.4\n%%EOF\n"), "--jwks", jwks)
    assert code == 1 and err.startswith("INVALID: ")


def test_an_expired_credential_is_expired(issuer, db, tmp_path):
    server, settings = issuer
    cert = issued_certificate(db, settings, course=create_course(db, certificateValidityDays=30))
    db.certificates.update_one({"_id": cert["_id"]}, {"$set": {"expiresAt": cert["issuedAt"]}})
    _, answer, _ = call("GET", f"{server.url}/api/certificates/{cert['certId']}/credential")
    jwks = f"{server.url}/.well-known/jwks.json"
    code, out, err = cli(tmp_path, saved(tmp_path, "c.jwt", answer["jwt"]), "--jwks", jwks)
    assert code == 2 and out.startswith("EXPIRED: ") and "valid until" in out, err
