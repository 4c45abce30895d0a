"""Access tokens: HS256 JWTs naming the user, their role and their session, valid for 15 minutes.

``sid`` is the session family (``lms.accounts.sessions``) the token was issued in. The token's
signature says who it was given to; whether that session still stands is asked of the database
on every request (``sessions.live``), so ending a session ends its access tokens at once. A token
without ``sid`` (issued before sessions were named) is refused like a forged one: its holder
refreshes, which issues one that names its session.
"""
from datetime import timedelta

import jwt

from ..db import now

ACCESS_TTL = timedelta(minutes=15)


def issue(user, session_id, secret):
    issued = now()
    claims = {"sub": user["_id"], "role": user["role"], "sid": session_id, "iat": issued,
              "exp": issued + ACCESS_TTL}
    return jwt.encode(claims, secret, algorithm="HS256")


def read(token, secret):
    """The token's claims, or None when it is forged, expired or not ours."""
    try:
        return jwt.decode(token, secret, algorithms=["HS256"],
                          options={"require": ["sub", "role", "sid", "exp", "iat"]})
    except jwt.PyJWTError:
        return None
