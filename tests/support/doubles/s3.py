"""A real S3 implementation on loopback: moto's server mode (``ThreadedMotoServer``), which speaks
the S3 REST API over HTTP (buckets, objects, errors such as ``NoSuchKey``, presigned GETs) as
boto3 expects it. Its objects live in this process, so stopping and starting it again on the
same port is an outage that loses nothing.

    double = S3Double().start()          # a bucket named "lms-test" exists
    settings = make_settings(LMS_S3_URL=double.url)
    double.object("certificates/CERT-ABC.pdf")   # the stored bytes
    double.stop(); ...; double.start()   # an outage: the same port, the objects kept
"""
import logging

import boto3
import pytest
from moto.server import ThreadedMotoServer

from lms.db import free_port

KEY, SECRET = "AKIATESTDOUBLE000001", "double-secret-s3-Kq9v2x"
logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request


class S3Double:
    def __init__(self, bucket="lms-test"):
        self.bucket, self.port, self.server = bucket, free_port(), None

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self):
        """The LMS_S3_URL that points the service here."""
        return f"s3://{KEY}:{SECRET}@{self.bucket}?endpoint={self.endpoint}&region=eu-west-1"

    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="eu-west-1",
                            aws_access_key_id=KEY, aws_secret_access_key=SECRET)

    def start(self):
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        buckets = self.client()
        if self.bucket not in [b["Name"] for b in buckets.list_buckets()["Buckets"]]:
            buckets.create_bucket(Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        return self

    def stop(self):
        if self.server:
            self.server.stop()
            self.server = None

    def object(self, key):
        return self.client().get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def keys(self):
        return sorted(o["Key"] for o in self.client().list_objects_v2(Bucket=self.bucket).get("Contents", []))


@pytest.fixture
def s3_double():
    """A running S3Double with an empty bucket, stopped after the test."""
    double = S3Double().start()
    client = double.client()
    for key in double.keys():
        client.delete_object(Bucket=double.bucket, Key=key)
    yield double
    double.stop()
