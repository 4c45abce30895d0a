"""Writing files so that a reader, or a crash, never sees half of one."""
import os
import secrets


def write_atomically(path, data):
    """Write ``data`` to ``path`` through a temporary file, flushed and renamed into place.
    Raises OSError; leaves no temporary file."""
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
