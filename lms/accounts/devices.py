"""Device cookies: how sign-in limits tell the owner's browser from a stranger's (OWASP's
Authentication Cheat Sheet, "device cookies").

After a successful sign-in the browser gets a long-lived cookie holding entries
``<nonce>.<signature>``, one per account that signed in on it (the newest ``KEEP``). The signature is
an HMAC, keyed from ``LMS_SECRET_KEY``, of the nonce and the account's e-mail address, so an entry
vouches for one address only, cannot be forged, and does not show the address. A sign-in attempt
for an address one of the browser's entries vouches for is counted against that entry alone
(``login-device``); every other attempt is counted against the address (``login-email``), so
failures from anywhere else can exhaust the unknown-device allowance of an account but never
its owner's known browsers.
"""
import hashlib
import hmac
import secrets

KEEP = 5
SEPARATOR = "~"


def _signature(secret, nonce, email):
    key = hmac.new(secret.encode(), b"lms device cookie", hashlib.sha256).digest()
    return hmac.new(key, f"{nonce}:{email.lower()}".encode(), hashlib.sha256).hexdigest()[:32]


def recognised(secret, cookie, email):
    """The nonce of the cookie's entry that vouches for ``email``, or None."""
    for entry in (cookie or "").split(SEPARATOR)[:KEEP]:
        nonce, _, signature = entry.partition(".")
        if nonce and hmac.compare_digest(signature, _signature(secret, nonce, email)):
            return nonce
    return None


def remember(secret, cookie, email):
    """The cookie's next value after ``email`` signed in: its entry first (a new one if it had
    none), then the others, at most ``KEEP``."""
    entries = [e for e in (cookie or "").split(SEPARATOR) if e]
    known = recognised(secret, cookie, email)
    nonce = known or secrets.token_urlsafe(12)
    mine = f"{nonce}.{_signature(secret, nonce, email)}"
    return SEPARATOR.join([mine, *(e for e in entries if e != mine)][:KEEP])
