"""Password hashing with bcrypt, in gevent's thread pool."""
import secrets

import bcrypt
import gevent


def hash(password, rounds):
    # bcrypt holds the CPU for ~300 ms at 12 rounds; in the thread pool the hub keeps serving.
    salt = bcrypt.gensalt(rounds)
    return _in_thread(bcrypt.hashpw, password.encode(), salt).decode()


def check(password, password_hash):
    return _in_thread(bcrypt.checkpw, password.encode(), password_hash.encode())


def _in_thread(fn, *args):
    return gevent.get_hub().threadpool.apply(fn, args)


# A real hash to compare against when the e-mail is unknown, so that answer costs the same time.
_DUMMY_HASHES = {}


def dummy_hash(rounds):
    if rounds not in _DUMMY_HASHES:
        _DUMMY_HASHES[rounds] = hash(secrets.token_urlsafe(16), rounds)
    return _DUMMY_HASHES[rounds]
