"""File storage: certificates' PDFs and submissions' files, behind one small interface.

    put(key, data, content_type) -> absolute URL
    get(key) -> bytes                  (local only)
    delete(key)                        (a missing key is not an error)

Keys are relative POSIX paths (``certificates/CERT-ABC.pdf``, ``submissions/<random>/<name>``),
checked by ``check_key`` for both backends, so a key that works in development works in
production. ``LocalStorage`` (no ``CLOUDINARY_URL``) keeps files under ``DATA_DIR/files``,
served by the app at ``/files/<key>``; ``CloudinaryStorage`` uploads them as raw resources.
Failures of the backend raise ``StorageError``; a bad key raises ``ValueError`` (a bug in
the caller, not an outage).
"""
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, quote, unquote, urlsplit

import cloudinary.exceptions
import cloudinary.uploader

from .files import write_atomically

TIMEOUT_SECONDS = 30
MAX_KEY_LENGTH = 512


class StorageError(Exception):
    """The storage backend failed (disk, network, credentials); the text is safe to log."""


def storage(settings):
    """The backend ``settings`` choose: Cloudinary when ``cloudinary_url`` is set, else local."""
    if settings.cloudinary_url:
        return CloudinaryStorage(settings.cloudinary_url)
    return LocalStorage(Path(settings.data_dir) / "files", settings.public_url)


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


class LocalStorage:
    """Files in a folder. Writes go to a temporary file that is renamed into place, so a
    reader sees the old file or the new one, never a torn one.

    The content type is not kept: the ``/files/<key>`` route derives it from the extension
    (keys carry one), which is also what Cloudinary does for raw resources.
    """

    def __init__(self, root, public_url):
        self.root = Path(root).resolve()
        self.public_url = public_url.rstrip("/")

    def url_for(self, key):
        return f"{self.public_url}/files/{quote(check_key(key), safe='/')}"

    def _path(self, key):
        path = self.root.joinpath(*check_key(key).split("/"))
        # Belt and braces: check_key already refuses "..", this also catches symlinks.
        if not path.resolve().is_relative_to(self.root):
            raise ValueError(f"storage key escapes the storage root: {key!r}")
        return path

    def put(self, key, data, content_type=None):
        path = self._path(key)
        try:
            write_atomically(path, data)
        except OSError as exc:
            raise StorageError(f"cannot store {key}: {exc.strerror or exc}") from None
        return self.url_for(key)

    def get(self, key):
        """The bytes stored under ``key``; FileNotFoundError when there are none."""
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StorageError(f"cannot read {key}: {exc.strerror or exc}") from None

    def path_for(self, key):
        """The file behind ``key`` for the route that serves it, or None when there is none
        (or the key is not a valid one: the route answers 404 either way)."""
        try:
            path = self._path(key)
        except ValueError:
            return None
        return path if path.is_file() else None

    def delete(self, key):
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot delete {key}: {exc.strerror or exc}") from None


class CloudinaryStorage:
    """Raw resources on Cloudinary through its SDK.

    Credentials travel as keyword arguments on every call rather than through
    ``cloudinary.config()``, so two instances (or a test double next to a real account) never
    share global state. ``?upload_prefix=http://127.0.0.1:N`` on the URL points the SDK at
    another API host. The public id is the key itself: for raw resources Cloudinary keeps the
    extension in the public id, so the URL ends in ``.pdf``.
    """

    def __init__(self, url, timeout=TIMEOUT_SECONDS):
        parts = urlsplit(url)
        if parts.scheme != "cloudinary" or not (parts.username and parts.password and parts.hostname):
            raise ValueError("CLOUDINARY_URL must look like cloudinary://KEY:SECRET@CLOUD")
        prefix = parse_qs(parts.query).get("upload_prefix", ["https://api.cloudinary.com"])[0]
        self.cloud_name = parts.hostname
        self._auth = {"api_key": unquote(parts.username), "api_secret": unquote(parts.password),
                      "cloud_name": parts.hostname, "upload_prefix": prefix.rstrip("/")}
        self.timeout = timeout

    def __repr__(self):
        return f"CloudinaryStorage({self.cloud_name!r}, {self._auth['upload_prefix']!r})"

    def put(self, key, data, content_type=None):
        # A (filename, bytes) tuple: the SDK drops a bare b"" as "no file", and the name
        # becomes the original_filename Cloudinary records.
        file = (PurePosixPath(check_key(key)).name, bytes(data))
        result = self._call(cloudinary.uploader.upload, file, resource_type="raw", public_id=key,
                            overwrite=True, invalidate=True)
        if not result.get("secure_url"):
            raise StorageError(f"Cloudinary accepted {key} but returned no secure_url")
        return result["secure_url"]

    def get(self, key):
        raise NotImplementedError("Cloudinary files are read through their URL, not the app")

    def delete(self, key):
        result = self._call(cloudinary.uploader.destroy, check_key(key), resource_type="raw",
                            invalidate=True)
        if result.get("result") not in ("ok", "not found"):
            raise StorageError(f"Cloudinary could not delete {key}: {result.get('result')!r}")

    def _call(self, method, *args, **options):
        try:
            return method(*args, timeout=self.timeout, **options, **self._auth)
        except (cloudinary.exceptions.Error, OSError, ValueError) as exc:
            detail = f"{type(exc).__name__}: {exc}".replace(self._auth["api_secret"], "***")
            raise StorageError(f"Cloudinary {method.__name__} failed: {detail}") from None
