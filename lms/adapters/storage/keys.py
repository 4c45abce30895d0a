"""Storage keys: relative POSIX paths, the same rules for every backend."""
MAX_KEY_LENGTH = 512


def check_key(key):
    """``key`` if it is a safe relative path, else ValueError.

    Refused: empty or overlong keys, absolute paths, backslashes, NUL and other control
    characters, and empty, ``.`` or ``..`` segments. Segments may not start with a dot either,
    so dotfiles and the local backend's temporary files are never addressable.
    """
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError("storage key must be a non-empty string of at most 512 characters")
    if "\\" in key or any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise ValueError(f"storage key has a forbidden character: {key!r}")
    if key.startswith("/") or any(not part or part.startswith(".") for part in key.split("/")):
        raise ValueError(f"storage key must be a relative path without dot segments: {key!r}")
    return key
