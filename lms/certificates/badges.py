"""Verifiable certificates: Open Badges 3.0 credentials signed as VC-JWTs with Ed25519.

An employer can check a credential without trusting our database: the JWT's signature verifies
against the public keys we publish at ``/.well-known/jwks.json``, and ``credentialStatus`` points
at a public endpoint that says whether it was revoked since.

Keys: ``LMS_SIGNING_KEY`` (a PEM Ed25519 private key; generated once into the data dir in
development). Rotation: put the new key in ``LMS_SIGNING_KEY`` and move the old key's PEM (the
private or the public half) into ``LMS_RETIRED_SIGNING_KEYS``; retired keys stay listed in the
JWKS, so credentials signed with them keep verifying, and nothing new is signed with them. A key
id is the key's RFC 7638 thumbprint, so it is the same wherever the key is loaded.

This module knows no HTTP: it turns an issued certificate into a signed credential (``sign``),
and checks a credential against a key set (``verify``, which ``python lms.py verify-credential``
uses too). The credential's IRIs come from the ``Urls`` passed in: its id and
``credentialStatus`` are routes; the issuer and subject ids are identifiers only (see
``lms.web.urls``).
"""
import base64
import functools
import hashlib
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..db import iso
from ..errors import Conflict, Gone
from .shapes import public_status, status_report, verify_url

CONTEXTS = ["https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
MEDIA_TYPE = "application/vc+jwt"
_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]+-----.+?-----END [A-Z ]+-----", re.S)


class CredentialError(Exception):
    """A credential that does not verify; the message says why."""


def parse_keys(pem_text, *, private):
    """Every Ed25519 key in ``pem_text`` (private keys, or public halves when not ``private``)."""
    keys = []
    for block in _PEM_BLOCK.findall(pem_text):
        data = block.encode()
        try:
            key = (serialization.load_pem_private_key(data, password=None) if "PRIVATE" in block
                   else serialization.load_pem_public_key(data))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not a readable PEM key ({exc})") from None
        if private and not isinstance(key, Ed25519PrivateKey):
            raise ValueError("must be an Ed25519 private key in PEM")
        if not isinstance(key, (Ed25519PrivateKey, Ed25519PublicKey)):
            raise ValueError("must hold Ed25519 keys")
        keys.append(key if private else _public(key))
    if not keys:
        raise ValueError("no PEM key found")
    if private and len(keys) != 1:
        raise ValueError("must hold exactly one private key")
    return keys


def _public(key):
    return key.public_key() if isinstance(key, Ed25519PrivateKey) else key


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk(public_key):
    x = _b64(public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    # RFC 7638: the thumbprint hashes the required members in lexical order, no spaces.
    thumbprint = _b64(hashlib.sha256(json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x},
                                                separators=(",", ":"), sort_keys=True).encode()).digest())
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": thumbprint, "alg": "EdDSA", "use": "sig"}


@dataclass(frozen=True)
class Keyring:
    signing: Ed25519PrivateKey
    retired: tuple = ()

    @classmethod
    def from_settings(cls, settings):
        """The keyring ``settings`` name, parsed once per process for each key set (parsing PEM
        on every request would cost more than the signature)."""
        return _load(settings.signing_key, settings.retired_signing_keys)

    @property
    def kid(self):
        return jwk(self.signing.public_key())["kid"]

    def jwks(self):
        """The published key set: the current key first, then every retired one."""
        keys, seen = [], set()
        for key in (self.signing.public_key(), *self.retired):
            entry = jwk(key)
            if entry["kid"] not in seen:
                seen.add(entry["kid"])
                keys.append(entry)
        return {"keys": keys}

    def sign(self, credential):
        """The credential as a compact VC-JWT (the payload is the credential, plus the registered
        JWT claims a generic JWT library checks)."""
        claims = {**credential, "iss": credential["issuer"]["id"], "jti": credential["id"],
                  "sub": credential["credentialSubject"]["id"],
                  "nbf": _epoch(credential["validFrom"])}
        if credential.get("validUntil"):
            claims["exp"] = _epoch(credential["validUntil"])
        return jwt.encode(claims, self.signing, algorithm="EdDSA",
                          headers={"kid": self.kid, "typ": "vc+jwt"})


@functools.lru_cache(maxsize=8)
def _load(signing_pem, retired_pem):
    signing = parse_keys(signing_pem, private=True)[0]
    retired = parse_keys(retired_pem, private=False) if retired_pem else []
    return Keyring(signing, tuple(retired))


def _epoch(iso_time):
    return int(datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp())


def sign(db, keyring, urls, org_name, cert):
    """(the Open Badges 3.0 credential, the same signed as a compact VC-JWT) for an issued
    certificate, active or expired (its ``credentialStatus`` tells which). A revoked one gets
    none: 410 ``certificate_revoked`` with its status, so nobody is handed a freshly signed
    credential for it (the ones handed out before still name the status endpoint).

    Signed at each request from the record (Ed25519 signatures are deterministic, so the same
    record gives the same JWT); the names and dates are the ones snapshotted at issue.
    """
    status = public_status(cert)
    if status == "revoked":
        raise Gone("This certificate was revoked", code="certificate_revoked", extra={"status": status_report(cert)})
    if status == "pending" or not (cert.get("issuedAt") and cert.get("hash")):
        raise Conflict("This certificate is not issued yet", code="not_issued")
    return signed(db, keyring, urls, org_name, cert)


def signed(db, keyring, urls, org_name, cert):
    """The credential of ``cert`` and its VC-JWT, whatever its status. Without a ``hash`` (the
    one baked into the files, which cannot hold their own hash) its evidence names no PDF hash."""
    course = db.courses.find_one({"_id": cert["courseId"]},
                                 {"slug": 1, "description": 1, "requiresProject": 1}) or {}
    credential = build(cert={**cert, "issuedAt": iso(cert["issuedAt"])}, course=course, urls=urls,
                       org_name=org_name, expires_at=iso(cert.get("expiresAt")))
    return credential, keyring.sign(credential)


def build(*, cert, course, urls, org_name, expires_at=None):
    """The Open Badges 3.0 credential for an issued certificate (unsigned)."""
    cert_id = cert["certId"]
    credential = {
        "@context": CONTEXTS,
        "id": urls.url_for("credentials_credential", certId=cert_id),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": f"{cert['courseTitle']}: certificate of completion",
        "issuer": {"id": urls.identifier("issuer"), "type": ["Profile"], "name": org_name, "url": urls.base},
        "validFrom": cert["issuedAt"],
        "credentialSubject": {
            "id": urls.identifier("api", "users", cert["userId"]),
            "type": ["AchievementSubject"],
            "name": cert["studentName"],
            "achievement": {
                "id": urls.url_for("catalog_get_course", slug=course.get("slug") or cert["courseId"]),
                "type": ["Achievement"], "achievementType": "Certificate",
                "name": cert["courseTitle"],
                "description": (course.get("description") or cert["courseTitle"])[:1000],
                "criteria": {"narrative": "Completed every lesson of the course"
                             + (" and had the project approved by a mentor" if course.get("requiresProject") else "")
                             + "."}},
        },
        "evidence": [{"id": verify_url(urls, cert_id), "type": ["Evidence"], "name": "Certificate PDF",
                      **({"description": f"SHA-256 of the PDF: {cert['hash']}", "pdfUrl": cert.get("pdfUrl"),
                          "pdfSha256": cert["hash"]} if cert.get("hash") else
                         {"description": "The certificate's verification page"})}],
        "credentialStatus": {"id": urls.url_for("credentials_status", certId=cert_id),
                             "type": "LMSCertificateStatus"},
    }
    if expires_at:
        credential["validUntil"] = expires_at
    return credential


def verify(token, jwks, *, now=None):
    """Check a compact VC-JWT against a JWKS dict. Returns (claims, expired).

    The signature, the algorithm (EdDSA only) and the key id are required to match; an expired
    credential still verifies (a verifier wants to know it was genuine) and is reported as such.
    It is expired from ``exp`` on (RFC 7519: valid only *before* it), the same instant at which
    the status endpoint starts saying ``expired``.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise CredentialError(f"not a JWT: {exc}") from None
    if header.get("alg") != "EdDSA":
        raise CredentialError(f"unexpected algorithm {header.get('alg')!r}")
    match = next((k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid")), None)
    if not match:
        raise CredentialError(f"no published key has the id {header.get('kid')!r}")
    key = jwt.algorithms.OKPAlgorithm.from_jwk(json.dumps(match))
    try:
        claims = jwt.decode(token, key, algorithms=["EdDSA"],
                            options={"verify_exp": False, "verify_aud": False,
                                     "require": ["iss", "jti", "nbf"]})
    except jwt.PyJWTError as exc:
        raise CredentialError(f"signature or claims invalid: {exc}") from None
    expired = "exp" in claims and claims["exp"] <= (now if now is not None else time.time())
    return claims, expired
