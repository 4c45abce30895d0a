"""Objects in an S3-compatible bucket (AWS S3, MinIO, Cloudflare R2) through boto3.

``LMS_S3_URL`` is ``s3://[KEY:SECRET@]BUCKET[/PREFIX][?endpoint=URL&region=NAME]``. Without a key
in the URL boto3 finds credentials the usual way (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
``AWS_PROFILE``, an instance role; ``AWS_ENDPOINT_URL`` too), so a deployment on AWS needs only
the bucket. With an ``endpoint`` (MinIO, R2, a test server) addresses are path-style.

Decision: objects stay private (no public ACL, which R2 and new AWS buckets refuse anyway). Their
URL is the app's own ``/files/<key>``, which answers with a redirect to a presigned GET valid for
``PRESIGN_SECONDS``; so a link we hand out (a certificate's PDF, a submission's file) never
expires, and a presigned one only lives as long as one download needs.

Failures (an outage, a timeout, a refusal, a rate limit) raise ``StorageError``, carrying the
``Retry-After`` the service sent, if any.
"""
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import botocore.config
import botocore.exceptions

from ...errors import StorageError
from .keys import check_key
from .retry import retry_after

PRESIGN_SECONDS = 600


class S3Storage:
    def __init__(self, url, file_url, *, timeout=30):
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.hostname:
            raise ValueError("LMS_S3_URL must look like s3://[KEY:SECRET@]BUCKET[/PREFIX]")
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.bucket = parts.hostname
        self.prefix = parts.path.strip("/") + "/" if parts.path.strip("/") else ""
        self.endpoint = query.get("endpoint")
        self.file_url = file_url
        credentials = ({"aws_access_key_id": unquote(parts.username), "aws_secret_access_key": unquote(parts.password)}
                       if parts.username else {})
        config = botocore.config.Config(
            connect_timeout=5, read_timeout=timeout, retries={"max_attempts": 2, "mode": "standard"},
            signature_version="s3v4", s3={"addressing_style": "path"} if self.endpoint else None)
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name=query.get("region", "us-east-1"), config=config,
            **credentials)

    def __repr__(self):
        return f"S3Storage({self.bucket!r}, {self.endpoint or 'AWS'!r})"

    def _key(self, key):
        return self.prefix + check_key(key)

    def put(self, key, data, content_type=None):
        extra = {"ContentType": content_type} if content_type else {}
        self._call("put", self.client.put_object, Bucket=self.bucket, Key=self._key(key), Body=bytes(data), **extra)
        return self.file_url(key)

    def get(self, key):
        """The bytes stored under ``key``; FileNotFoundError when there are none."""
        try:
            return self._call("get", self.client.get_object, Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except _Missing:
            raise FileNotFoundError(key) from None

    def delete(self, key):
        self._call("delete", self.client.delete_object, Bucket=self.bucket, Key=self._key(key))

    def presigned(self, key, seconds=PRESIGN_SECONDS):
        """A URL that reads ``key`` for ``seconds`` (signed here: no request to the service)."""
        return self.client.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": self._key(key)},
                                                  ExpiresIn=seconds)

    @property
    def origin(self):
        """Where presigned URLs point (pages that show our images must allow it)."""
        parts = urlsplit(self.presigned("x"))
        return f"{parts.scheme}://{parts.netloc}"

    def _call(self, what, method, **params):
        try:
            return method(**params)
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") in ("NoSuchKey", "404"):
                raise _Missing() from None
            headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            raise StorageError(f"S3 {what} {params.get('Key')} failed: {error.get('Code')} {error.get('Message', '')}",
                               retry_after=retry_after(headers.get("retry-after"))) from None
        except (botocore.exceptions.BotoCoreError, OSError) as exc:
            raise StorageError(f"S3 {what} {params.get('Key')} failed: {type(exc).__name__}: {exc}") from None


class _Missing(Exception):
    pass
