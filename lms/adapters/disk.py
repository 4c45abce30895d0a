"""Writing files so that a reader, or a crash, never sees half of one.

The write runs in gevent's thread pool: ``fsync`` of a 10 MB upload waits for the disk for
hundreds of milliseconds, during which the hub would answer no other request.
"""
import os
import secrets

import gevent


def write_atomically(path, data):
    """Write ``data`` to ``path`` through a temporary file, flushed and renamed into place.
    Raises OSError; leaves no temporary file."""
    return gevent.get_hub().threadpool.apply(_write, (path, data))


def _write(path, data):
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
