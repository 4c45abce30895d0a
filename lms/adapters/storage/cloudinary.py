"""Raw resources on Cloudinary."""
import json
import time
from pathlib import PurePosixPath
from urllib.parse import parse_qs, quote, unquote, urlsplit

import cloudinary.exceptions
import cloudinary.uploader
import cloudinary.utils
import urllib3

from ...errors import StorageError
from .keys import check_key
from .retry import retry_after

DELIVERY = "https://res.cloudinary.com"

TIMEOUT_SECONDS = 30


class CloudinaryStorage:
    """Raw resources on Cloudinary through its SDK.

    Credentials travel as keyword arguments on every call rather than through
    ``cloudinary.config()``, so two instances (or a test double next to a real account) never
    share global state. ``?upload_prefix=http://127.0.0.1:N`` on the URL points the SDK at
    another API host. The public id is the key itself: for raw resources Cloudinary keeps the
    extension in the public id, so the URL ends in ``.pdf``.

    Uploads are signed by the SDK (``cloudinary.utils.sign_request``, the request its uploader
    sends) and posted here, because the SDK drops the response's headers: a rate-limited upload
    answers 420 with ``X-FeatureRateLimit-Reset`` (when the limit resets), a busy one may send
    ``Retry-After``, and the job waits that long before it tries again. ``get`` reads a file
    back through the delivery URL (raw uploads are public there), for the ZIP of a course's
    certificates.
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
        self.delivery = prefix.rstrip("/") if "upload_prefix" in parse_qs(parts.query) else DELIVERY
        self._http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=timeout))

    def __repr__(self):
        return f"CloudinaryStorage({self.cloud_name!r}, {self._auth['upload_prefix']!r})"

    def put(self, key, data, content_type=None):
        # A (filename, bytes) tuple: the SDK drops a bare b"" as "no file", and the name
        # becomes the original_filename Cloudinary records.
        file = (PurePosixPath(check_key(key)).name, bytes(data))
        params = cloudinary.utils.sign_request(
            {"timestamp": int(time.time()), "public_id": key, "overwrite": True, "invalidate": True}, self._auth)
        url = cloudinary.utils.cloudinary_api_url("upload", resource_type="raw", **self._auth)
        response = self._request("POST", url, fields={**params, "file": file})
        try:
            result = json.loads(response.data.decode())
        except ValueError:
            result = {"error": {"message": response.data[:200].decode(errors="replace")}}
        if response.status != 200 or "error" in result:
            wait = retry_after(response.headers.get("Retry-After")) or retry_after(
                response.headers.get("X-FeatureRateLimit-Reset"))
            message = (result.get("error") or {}).get("message", "")
            raise StorageError(f"Cloudinary upload of {key} answered {response.status}: {message}", retry_after=wait)
        if not result.get("secure_url"):
            raise StorageError(f"Cloudinary accepted {key} but returned no secure_url")
        return result["secure_url"]

    def get(self, key):
        """The bytes of a raw upload, from the delivery URL; FileNotFoundError when there are none."""
        url = f"{self.delivery}/{self.cloud_name}/raw/upload/{quote(check_key(key))}"
        response = self._request("GET", url)
        if response.status == 404:
            raise FileNotFoundError(key)
        if response.status != 200:
            raise StorageError(f"Cloudinary delivery of {key} answered {response.status}")
        return response.data

    def _request(self, method, url, **kwargs):
        try:
            return self._http.request(method, url, **kwargs)
        except urllib3.exceptions.HTTPError as exc:
            raise StorageError(f"Cloudinary {method} failed: {type(exc).__name__}: {exc}") from None

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
