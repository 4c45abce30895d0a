"""Raw resources on Cloudinary."""
from pathlib import PurePosixPath
from urllib.parse import parse_qs, unquote, urlsplit

import cloudinary.exceptions
import cloudinary.uploader

from ...errors import StorageError
from .keys import check_key

TIMEOUT_SECONDS = 30


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
