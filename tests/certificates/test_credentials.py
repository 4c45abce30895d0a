"""Verifiable credentials: signed, published keys, rotation, tampering, expiry; then the same
through HTTP (the JWKS, credentials and their status as a verifier fetches them). The
``verify-credential`` command: test_verifier.py."""
import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import serialization

from lms.certificates import badges as credentials
from lms.certificates.badges import CredentialError, Keyring
from lms.config import Settings, _new_signing_key
from lms.routes import ROUTES
from lms.web.urls import Urls
from support.app import app_with, browser
from support.certificates import stored_pdf
from support.factories import create_course, issued_certificate, pending_certificate

CERT = {"certId": "CERT-7K3M9QXH2P", "userId": "6b0945565aa2d2a131c155a7", "courseId": "6b0945565aa2d2a131c155a8",
        "studentName": "Amit Kumar", "courseTitle": "MERN Bootcamp", "issuedAt": "2026-11-20T12:00:00.000Z",
        "hash": "ab" * 32, "pdfUrl": "https://lms.test/files/certificates/CERT-7K3M9QXH2P.pdf"}
COURSE = {"slug": "mern-bootcamp", "description": "Build full-stack apps", "requiresProject": True}


def keyring(**env):
    return Keyring.from_settings(Settings.from_env({"LMS_SECRET_KEY": "s" * 40, "LMS_DATA_DIR": "/nonexistent",
                                                    **env}, create_secret=False))


def credential(**changes):
    return credentials.build(cert={**CERT, **changes}, course=COURSE, urls=Urls(ROUTES, "https://lms.test"),
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
    cred = credentials.build(cert=CERT, course=COURSE, urls=Urls(ROUTES, "https://lms.test"), org_name="Acme",
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


# --- through HTTP: the published keys, signed credentials, their status, the CLI ---------------

REGISTERED = ("iss", "jti", "sub", "nbf", "exp")


def fetch(client, cert_id):
    """(the JWKS, the credential answer) as a verifier fetches them."""
    return client.get("/.well-known/jwks.json").json, client.get(f"/api/certificates/{cert_id}/credential").json


def public_pem(private_pem):
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def test_the_served_jwks_is_the_public_half_of_the_signing_key(make_settings):
    pem = _new_signing_key()
    with app_with(make_settings, LMS_SIGNING_KEY=pem) as (_, app):
        response = browser(app).get("/.well-known/jwks.json")
    assert response.content_type == "application/json"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    [key] = response.json["keys"]
    assert response.json == {"keys": [key]}  # a JWK Set, not the API envelope
    raw = serialization.load_pem_private_key(pem.encode(), password=None).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert base64.urlsafe_b64decode(key["x"] + "=") == raw
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
    assert "d" not in key


def test_a_credential_fetched_over_http_verifies_with_the_published_keys(client, db, settings):
    course = create_course(db, title="MERN Bootcamp", description="Build full-stack apps", requiresProject=True)
    cert = issued_certificate(db, settings, course=course, name="Zoë Ñúñez")
    jwks, answer = fetch(client, cert["certId"])
    assert answer["ok"] is True and set(answer) == {"ok", "credential", "jwt"}

    claims, expired = credentials.verify(answer["jwt"], jwks)
    assert not expired
    assert {k: v for k, v in claims.items() if k not in REGISTERED} == answer["credential"]
    issued_at = cert["issuedAt"].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    assert claims["validFrom"] == issued_at and "validUntil" not in claims and "exp" not in claims
    subject = claims["credentialSubject"]
    assert (subject["name"], subject["achievement"]["name"]) == ("Zoë Ñúñez", "MERN Bootcamp")
    assert "project approved" in subject["achievement"]["criteria"]["narrative"]
    pdf = stored_pdf(settings, cert)
    assert claims["evidence"][0]["pdfSha256"] == hashlib.sha256(pdf).hexdigest() == cert["hash"]
    assert claims["evidence"][0]["pdfUrl"] == cert["pdfUrl"]

    status_url = claims["credentialStatus"]["id"]
    assert status_url == f"https://lms.test/api/certificates/{cert['certId']}/status"
    status = client.get(status_url.removeprefix("https://lms.test")).json
    assert (status["certId"], status["status"]) == (cert["certId"], "active")
    # The same record gives the same token: Ed25519 signatures are deterministic.
    assert client.get(f"/api/certificates/{cert['certId'].lower()}/credential").json["jwt"] == answer["jwt"]


def test_the_compact_jwt_alone_by_accept_header_or_query_flag(client, db, settings):
    cert = issued_certificate(db, settings)
    url = f"/api/certificates/{cert['certId']}/credential"
    token = client.get(url).json["jwt"]
    for response in (client.get(url, headers={"Accept": "application/vc+jwt"}),
                     client.get(url, headers={"Accept": "text/html, application/vc+jwt;q=0.9"}),
                     client.get(url + "?format=jwt")):
        assert response.content_type == "application/vc+jwt" and response.text == token
        assert response.headers["Vary"] == "Accept" and response.headers["Cache-Control"] == "no-store"
    assert client.get(url + "?format=json").json["jwt"] == token
    error = client.get(url + "?format=xml", status=400).json["error"]
    assert error["code"] == "validation_error" and "format" in error["fields"]


def test_a_fetched_credential_with_one_claim_changed_fails(client, db, settings):
    cert = issued_certificate(db, settings, name="Amit Kumar")
    jwks, answer = fetch(client, cert["certId"])
    head, payload, signature = answer["jwt"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    for change in (("credentialSubject", "name", "Someone Else"), ("evidence", 0, "pdfSha256", "00" * 32)):
        forged = json.loads(json.dumps(claims))
        target = forged
        for key in change[:-2]:
            target = target[key]
        target[change[-2]] = change[-1]
        body = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
        with pytest.raises(CredentialError, match="signature"):
            credentials.verify(f"{head}.{body}.{signature}", jwks)


def test_rotation_keeps_credentials_issued_before_it_verifiable(make_settings, db):
    key_a, key_b = _new_signing_key(), _new_signing_key()
    with app_with(make_settings, LMS_SIGNING_KEY=key_a) as (runtime, app):
        cert = issued_certificate(db, runtime.settings)
        old_jwks, old = fetch(browser(app), cert["certId"])
    # Restarted with a new key; only the public half of the old one is kept.
    with app_with(make_settings, LMS_SIGNING_KEY=key_b, LMS_RETIRED_SIGNING_KEYS=public_pem(key_a)) as (_, app):
        jwks, new = fetch(browser(app), cert["certId"])
    kid_a, kid_b = old_jwks["keys"][0]["kid"], jwk_id(key_b)
    assert [k["kid"] for k in jwks["keys"]] == [kid_b, kid_a]
    assert credentials.verify(old["jwt"], jwks)[0]["jti"] == old["credential"]["id"]
    assert header_of(new["jwt"])["kid"] == kid_b and header_of(old["jwt"])["kid"] == kid_a
    assert credentials.verify(new["jwt"], jwks)[0] == credentials.verify(old["jwt"], jwks)[0]
    with pytest.raises(CredentialError, match="no published key"):
        credentials.verify(new["jwt"], old_jwks)  # a verifier holding the old set must fetch again


def jwk_id(private_pem):
    return credentials.jwk(serialization.load_pem_private_key(private_pem.encode(), password=None).public_key())["kid"]


def header_of(token):
    return json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))


@pytest.mark.parametrize("status", ["pending", "rendering", "failed"])
def test_an_unissued_certificate_has_no_credential_yet(client, db, settings, status):
    cert = pending_certificate(db, settings)
    db.certificates.update_one({"_id": cert["_id"]}, {"$set": {"status": status}})
    error = client.get(f"/api/certificates/{cert['certId']}/credential", status=409).json["error"]
    assert error["code"] == "not_issued"
    status = client.get(f"/api/certificates/{cert['certId']}/status").json
    assert status == {"ok": True, "certId": cert["certId"], "status": "pending", "checkedAt": status["checkedAt"]}


def test_a_certificate_revoked_before_it_was_ever_issued_has_no_credential(signed_in, client, db, settings):
    cert = pending_certificate(db, settings)
    signed_in("admin").post_json(f"/api/admin/certificates/{cert['certId']}/revoke", {"reason": "Fraud"})
    assert client.get(f"/api/certificates/{cert['certId']}/credential", status=410).json["error"]["code"] == \
        "certificate_revoked"
    assert client.get(f"/api/certificates/{cert['certId']}/status").json["status"] == "revoked"


@pytest.mark.parametrize("cert_id", ["CERT-0000000000", "nope", "x" * 300])
def test_unknown_certificates_are_404(client, db, cert_id):
    for path in ("credential", "status"):
        assert client.get(f"/api/certificates/{cert_id}/{path}", status=404).json["error"]["code"] == "not_found"


def test_a_revoked_certificate_gets_no_new_credential_and_the_old_one_says_revoked(signed_in, client, db, settings):
    cert = issued_certificate(db, settings)
    jwks, before = fetch(client, cert["certId"])
    revoked = signed_in("admin").post_json(f"/api/admin/certificates/{cert['certId']}/revoke",
                                           {"reason": "Plagiarised project"}).json["certificate"]
    gone = client.get(f"/api/certificates/{cert['certId']}/credential", status=410).json
    assert gone["error"]["code"] == "certificate_revoked" and "jwt" not in gone
    assert (gone["status"]["status"], gone["status"]["revokeReason"]) == ("revoked", "Plagiarised project")
    assert client.get(f"/api/certificates/{cert['certId']}/credential?format=jwt", status=410)
    assert credentials.verify(before["jwt"], jwks), "one handed out before still verifies: its status tells"
    status = client.get(f"/api/certificates/{cert['certId']}/status")
    assert status.headers["Cache-Control"] == "no-store"  # a revocation shows at once
    assert status.json == {"ok": True, "certId": cert["certId"], "status": "revoked",
                           "revokedAt": revoked["revokedAt"], "revokeReason": "Plagiarised project",
                           "checkedAt": status.json["checkedAt"]}
    assert status.json["checkedAt"].endswith("Z")


def test_credential_and_status_lookups_count_towards_the_lookup_limit(client, db, settings):
    cert = issued_certificate(db, settings)
    for n in range(120):
        client.get(f"/api/certificates/{cert['certId']}/{'credential' if n % 2 else 'status'}")
    for path in ("/credential", "/status", ""):
        limited = client.get(f"/api/certificates/{cert['certId']}{path}", status=429)
        assert limited.json["error"]["code"] == "rate_limited" and int(limited.headers["Retry-After"]) >= 1
    assert client.get("/.well-known/jwks.json").json["keys"]  # the keys are never limited
