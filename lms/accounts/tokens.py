"""Access tokens: HS256 JWTs naming the user and their role, valid for 15 minutes."""
from datetime import timedelta

import jwt

from ..db import now

ACCESS_TTL = timedelta(minutes=15)


def issue(user, secret):
    issued = now()
    claims = {"sub": user["_id"], "role": user["role"], "iat": issued, "exp": issued + ACCESS_TTL}
    return jwt.encode(claims, secret, algorithm="HS256")


def read(token, secret):
    """The token's claims, or None when it is forged, expired or not ours."""
    try:
        return jwt.decode(token, secret, algorithms=["HS256"],
                          options={"require": ["sub", "role", "exp", "iat"]})
    except jwt.PyJWTError:
        return None
