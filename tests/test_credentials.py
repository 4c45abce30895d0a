"""Verifiable credentials: signed, published keys, rotation, tampering, expiry."""
import base64
import json

import pytest

from lms import credentials
from lms.config import Settings, _new_signing_key
from lms.credentials import CredentialError, Keyring

CERT = {"certId": "CERT-7K3M9QXH2P", "userId": "6b0945565aa2d2a131c155a7", "courseId": "6b0945565aa2d2a131c155a8",
        "studentName": "Amit Kumar", "courseTitle": "MERN Bootcamp", "issuedAt": "2026-11-20T12:00:00.000Z",
        "hash": "ab" * 32, "pdfUrl": "https://lms.test/files/certificates/CERT-7K3M9QXH2P.pdf"}
COURSE = {"slug": "mern-bootcamp", "description": "Build full-stack apps", "requiresProject": True}


def keyring(**env):
    return Keyring.from_settings(Settings.from_env({"LMS_SECRET_KEY": "s" * 40, "LMS_DATA_DIR": "/nonexistent",
                                                    **env}, create_secret=False))


def credential(**changes):
    return credentials.build(cert={**CERT, **changes}, course=COURSE, public_url="https://lms.test",
                             org_name="Acme Academy")


def test_a_signed_credential_verifies_against_the_published_keys():
    ring = keyring(LMS_SIGNING_KEY=_new_signing_key())
    token = ring.sign(credential())
    claims, expired = credentials.verify(token, ring.jwks())
    assert not expired
    assert claims["credentialSubject"]["name"] == "Amit Kumar"
    assert claims["credentialSubject"]["achievement"]["name"] == "MERN Bootcamp"
    assert claims["issuer"]["name"] == "Acme Academy"
    assert claims["evidence"][0]["pdfSha256"] == "ab" * 32
    assert claims["credentialStatus"]["id"] == "https://lms.test/api/certificates/CERT-7K3M9QXH2P/status"
    assert "OpenBadgeCredential" in claims["type"] and claims["@context"][0].endswith("credentials/v2")
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "EdDSA", "kid": ring.kid, "typ": "vc+jwt"}


def test_changing_one_claim_breaks_the_signature():
    ring = keyring(LMS_SIGNING_KEY=_new_signing_key())
    head, payload, signature = ring.sign(credential()).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["credentialSubject"]["name"] = "Someone Else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(CredentialError, match="signature"):
        credentials.verify(f"{head}.{forged}.{signature}", ring.jwks())


def test_a_credential_signed_by_another_key_is_refused():
    ours, theirs = keyring(LMS_SIGNING_KEY=_new_signing_key()), keyring(LMS_SIGNING_KEY=_new_signing_key())
    with pytest.raises(CredentialError, match="no published key"):
        credentials.verify(theirs.sign(credential()), ours.jwks())


def test_an_unsigned_token_is_refused():
    ring = keyring(LMS_SIGNING_KEY=_new_signing_key())
    head, payload, _ = ring.sign(credential()).split(".")
    none = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": ring.kid}).encode()).rstrip(b"=").decode()
    with pytest.raises(CredentialError, match="algorithm"):
        credentials.verify(f"{none}.{payload}.", ring.jwks())
    with pytest.raises(CredentialError):
        credentials.verify("not-a-jwt", ring.jwks())


def test_rotation_keeps_old_credentials_verifiable():
    old_key = _new_signing_key()
    before = keyring(LMS_SIGNING_KEY=old_key)
    old_token = before.sign(credential())
    after = keyring(LMS_SIGNING_KEY=_new_signing_key(), LMS_RETIRED_SIGNING_KEYS=old_key)
    published = after.jwks()
    assert [k["kid"] for k in published["keys"]] == [after.kid, before.kid]
    assert all("d" not in k for k in published["keys"])  # never the private half
    assert credentials.verify(old_token, published)[0]["jti"] == credential()["id"]
    new_token = after.sign(credential())
    assert json.loads(base64.urlsafe_b64decode(new_token.split(".")[0] + "=="))["kid"] == after.kid
    assert credentials.verify(new_token, published)


def test_expiry_is_reported_not_hidden():
    ring = keyring(LMS_SIGNING_KEY=_new_signing_key())
    cred = credentials.build(cert=CERT, course=COURSE, public_url="https://lms.test", org_name="Acme",
                             expires_at="2027-11-20T12:00:00.000Z")
    token = ring.sign(cred)
    claims, expired = credentials.verify(token, ring.jwks(), now=credentials._epoch("2027-11-20T11:59:59Z"))
    assert claims["validUntil"] == "2027-11-20T12:00:00.000Z" and not expired
    assert credentials.verify(token, ring.jwks(), now=credentials._epoch("2027-11-20T12:00:01Z"))[1]


def test_key_ids_are_rfc7638_thumbprints():
    # The example key of RFC 8037 §A.3 and its published thumbprint.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    x = base64.urlsafe_b64decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
    assert credentials.jwk(Ed25519PublicKey.from_public_bytes(x))["kid"] == \
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
