"""moto in server mode on a random loopback port, reached over HTTP through boto3 like real S3.

Never moto's in-process decorators: the code under test builds its own boto3 clients from
the environment (AWS_ENDPOINT_URL, credential chain, region), exactly as in production.

    conftest.py imports `moto_server` and `s3` for every test module.

`moto_server` is one server per test session (moto's state lives in this process);
`s3` gives each test its own fresh bucket and points the AWS environment at the server.
"""

import itertools
import logging
import os
from dataclasses import dataclass

import boto3
import pytest
from moto.server import ThreadedMotoServer

REGION = "eu-west-1"
_buckets = itertools.count()


class MotoServer:
    """ThreadedMotoServer on 127.0.0.1 with a port the OS picks; a context manager."""

    def __init__(self):
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.url = ""

    def start(self) -> "MotoServer":
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one INFO line per request otherwise
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> "MotoServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class S3Bucket:
    endpoint: str  # the moto server itself (a fault proxy may sit in front of it)
    bucket: str
    region: str = REGION

    def url(self, prefix: str = "") -> str:
        return f"s3://{self.bucket}/{prefix}".rstrip("/")

    def client(self):
        """A client straight to moto, bypassing AWS_ENDPOINT_URL (and any proxy it names)."""
        return boto3.session.Session().client("s3", endpoint_url=self.endpoint, region_name=self.region)

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def body(self, key: str) -> bytes:
        return self.client().get_object(Bucket=self.bucket, Key=key)["Body"].read()


def point_aws_at(monkeypatch, endpoint: str, region: str = REGION) -> None:
    """Fake credentials, the region and the endpoint, with no shared config or profile read."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def create_bucket(endpoint: str, name: str, region: str = REGION) -> S3Bucket:
    bucket = S3Bucket(endpoint=endpoint, bucket=name, region=region)
    bucket.client().create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    return bucket


@pytest.fixture(scope="session")
def moto_server():
    with MotoServer() as server:
        yield server


@pytest.fixture
def s3(moto_server, monkeypatch) -> S3Bucket:
    point_aws_at(monkeypatch, moto_server.url)
    return create_bucket(moto_server.url, f"bucket-{os.getpid()}-{next(_buckets)}")
