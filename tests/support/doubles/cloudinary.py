"""A loopback stand-in for Cloudinary's Upload API that checks what Cloudinary checks.

It answers ``POST /v1_1/<cloud>/<resource_type>/upload`` and ``.../destroy`` (multipart, the
way the SDK sends them), refuses an unknown ``api_key``, a wrong signature (computed like
Cloudinary: every posted parameter except ``file``, ``signature`` and ``api_key``, sorted,
joined with ``&``, plus the secret, SHA-1; ``cloud_name`` and ``resource_type`` are in the
path) and a timestamp more than an hour old. Uploaded bytes are kept in ``uploads`` by public
id, and ``secure_url`` points back at this server, where a GET returns them, so a test can
download what the app stored.

    double = CloudinaryDouble().start()
    settings = make_settings(CLOUDINARY_URL=double.url)
    ...
    double.uploads["certificates/CERT-ABC.pdf"]  # the bytes
    double.fail_next(2)                          # the next two API calls answer 500
    double.rate_limit_next(1, reset)             # the next one answers 420, X-FeatureRateLimit-Reset: reset
    double.stop()

Files are also served at their delivery path without a version (``/<cloud>/raw/upload/<id>``),
as Cloudinary serves them.
"""
import email.utils
import hashlib
import re
import threading
import time
import pytest
from cloudinary.utils import api_sign_request

from .loopback import Handler, LoopbackDouble

API_PATH = re.compile(r"^/v1_1/(?P<cloud>[^/]+)/(?P<resource_type>image|video|raw|auto)/(?P<action>upload|destroy)$")
FILE_PATH = re.compile(r"^/(?P<cloud>[^/]+)/raw/upload/(?:v\d+/)?(?P<public_id>.+)$")
UNSIGNED = {"file", "signature", "api_key"}


class CloudinaryDouble(LoopbackDouble):
    def __init__(self, cloud_name="lms-test", api_key="614935218307511", api_secret="double-secret-Xk2v9Qe"):
        self.handler = _Handler
        self.cloud_name, self.api_key, self.api_secret = cloud_name, api_key, api_secret
        self.uploads = {}     # public_id -> bytes
        self.requests = []    # (action, params without the file) of every accepted call
        self._failures = []   # statuses still to answer instead of handling a call
        self._lock = threading.Lock()

    @property
    def url(self):
        """The CLOUDINARY_URL that points the SDK here."""
        return f"cloudinary://{self.api_key}:{self.api_secret}@{self.cloud_name}?upload_prefix={self.base_url}"

    def fail_next(self, n=1, status=500, headers=None):
        """Answer the next ``n`` API calls with ``status`` (and ``headers``) and a Cloudinary error body."""
        with self._lock:
            self._failures.extend([(status, headers or {})] * n)

    def rate_limit_next(self, n, reset):
        """Answer the next ``n`` calls as Cloudinary does past a rate limit: 420, with the time the
        limit resets (an HTTP date) in ``X-FeatureRateLimit-Reset``."""
        self.fail_next(n, 420, {"X-FeatureRateLimit-Limit": "500", "X-FeatureRateLimit-Remaining": "0",
                                "X-FeatureRateLimit-Reset": email.utils.format_datetime(reset, usegmt=True)})

    def _take_failure(self):
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def handle(self, cloud, resource_type, action, fields):
        """(status, JSON body[, headers]) for one API call, judged the way Cloudinary judges it."""
        failure = self._take_failure()
        if failure:
            status, headers = failure
            message = "Rate Limit Exceeded" if status == 420 else "General Error (double: failure requested)"
            return status, {"error": {"message": message}}, headers
        params = {k: v for k, v in fields.items() if k not in UNSIGNED}
        if cloud != self.cloud_name:
            return 401, {"error": {"message": "cloud_name mismatch"}}
        if fields.get("api_key") != self.api_key:
            return 401, {"error": {"message": f"Unknown API key {fields.get('api_key')}"}}
        expected = api_sign_request(params, self.api_secret)
        if fields.get("signature") != expected:
            return 401, {"error": {"message": "Invalid Signature {}.".format(fields.get("signature"))}}
        if abs(time.time() - int(params.get("timestamp", 0))) > 3600:
            return 400, {"error": {"message": "Stale request - reported time is more than 1 hour ago"}}
        public_id = params.get("public_id")
        with self._lock:
            self.requests.append((action, params))
            if action == "destroy":
                return 200, {"result": "ok" if self.uploads.pop(public_id, None) is not None else "not found"}
            if "file" not in fields:
                return 400, {"error": {"message": "Missing required parameter - file"}}
            filename, data = fields["file"]
            public_id = public_id or hashlib.sha1(data).hexdigest()[:20]
            self.uploads[public_id] = data
        version = int(time.time())
        path = f"{self.cloud_name}/{resource_type}/upload/v{version}/{public_id}"
        return 200, {
            "asset_id": hashlib.md5(public_id.encode()).hexdigest(), "public_id": public_id,
            "version": version, "signature": hashlib.sha1(data).hexdigest(), "resource_type": resource_type,
            "type": "upload", "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "bytes": len(data), "etag": hashlib.md5(data).hexdigest(), "placeholder": False,
            "original_filename": filename.rsplit(".", 1)[0], "api_key": self.api_key,
            "url": f"{self.base_url}/{path}", "secure_url": f"{self.base_url}/{path}",
        }


class _Handler(Handler):
    def do_POST(self):
        match = API_PATH.match(self.path)
        if not match:
            return self.answer_json(404, {"error": {"message": "not found"}})
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            fields = parse_multipart(self.headers.get("Content-Type", ""), body)
        except ValueError as exc:
            return self.answer_json(400, {"error": {"message": str(exc)}})
        self.answer_json(*self.double.handle(match["cloud"], match["resource_type"], match["action"], fields))

    def do_GET(self):
        match = FILE_PATH.match(self.path)
        data = match and self.double.uploads.get(match["public_id"])
        if data is None:
            return self.answer_json(404, {"error": {"message": "Resource not found"}})
        self.answer(200, data, "application/octet-stream")


def parse_multipart(content_type, body):
    """multipart/form-data -> {name: str, or (filename, bytes) for file parts}."""
    boundary = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/form-data") or not boundary:
        raise ValueError("expected multipart/form-data")
    fields = {}
    for part in body.split(b"--" + boundary[1].encode())[1:-1]:
        head, _, content = part[2:-2].partition(b"\r\n\r\n")  # strip the CRLFs around each part
        disposition = re.search(rb'name="([^"]*)"(?:; filename="([^"]*)")?', head)
        if not disposition:
            raise ValueError("a part without a name")
        name = disposition[1].decode()
        fields[name] = (disposition[2].decode(), content) if disposition[2] is not None else content.decode()
    return fields


@pytest.fixture
def cloudinary_double():
    """A running CloudinaryDouble, stopped after the test."""
    with CloudinaryDouble() as double:
        yield double
