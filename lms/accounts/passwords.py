"""Passwords: bcrypt in gevent's thread pool, and what a new password may not be.

Checking: bcrypt looks at 72 bytes at most (bcrypt 5 refuses more), and no password longer than
that can be set, so a longer one presented at sign-in is simply wrong. It is still compared with
a real hash first, so that it costs the same time as any other wrong password.

A new password (sign-up, reset, change) is refused when it is one of the most used passwords
(``common_passwords.txt``, from the breach corpus the UK NCSC published: those are the first
guesses of every attacker, and of the sign-in limits too) or the account's own e-mail address or
its name part (the first thing someone who knows the address tries). The field error says which.
"""
import functools
import secrets
from pathlib import Path

import bcrypt
import gevent

from ..errors import ValidationError

MAX_BYTES = 72
COMMON = Path(__file__).with_name("common_passwords.txt")


def hash(password, rounds):
    # bcrypt holds the CPU for ~300 ms at 12 rounds; in the thread pool the hub keeps serving.
    salt = bcrypt.gensalt(rounds)
    return _in_thread(bcrypt.hashpw, password.encode(), salt).decode()


def check(password, password_hash):
    secret = password.encode()
    matches = _in_thread(bcrypt.checkpw, secret[:MAX_BYTES], password_hash.encode())
    return matches and len(secret) <= MAX_BYTES


def _in_thread(fn, *args):
    return gevent.get_hub().threadpool.apply(fn, args)


# A real hash to compare against when the e-mail is unknown, so that answer costs the same time.
_DUMMY_HASHES = {}


def dummy_hash(rounds):
    if rounds not in _DUMMY_HASHES:
        _DUMMY_HASHES[rounds] = hash(secrets.token_urlsafe(16), rounds)
    return _DUMMY_HASHES[rounds]


def judge(password, email, field="password"):
    """Refuse a new password that is too easy to guess (a ValidationError on ``field``)."""
    lowered, email = password.lower(), email.strip().lower()
    if lowered in (email, email.partition("@")[0]) or email in lowered:
        raise ValidationError({field: "must not be your e-mail address or contain it"})
    if lowered in _common():
        raise ValidationError({field: "is one of the most used passwords, which are the first ones attackers "
                                      "try; choose another"})


@functools.cache
def _common():
    lines = COMMON.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))
