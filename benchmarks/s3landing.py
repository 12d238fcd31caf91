"""The S3 row of the benchmark: the generated hour landed in a moto server on loopback.

moto runs in server mode in the benchmark's parent process and is reached over HTTP, like real
S3; the workers inherit the AWS environment set here, so the pipeline's boto3 listing and
chDB's `s3()` (the process's credential chain) both talk to it. moto serves objects from one
Python thread, so this row measures the S3 path's overhead on this machine, not S3's
throughput: the floor reads the same objects through the same server, and the row's ratio
compares like with like.
"""

import logging
import os
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

BUCKET = "metering-bench"
ROOT = "landing"
_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


class S3Landing:
    """A moto server on 127.0.0.1 for the benchmark's lifetime; a context manager."""

    def __init__(self):
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._saved: dict[str, str | None] = {}
        self.endpoint = ""

    def __enter__(self) -> "S3Landing":
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        for name, value in {**_ENV, "AWS_ENDPOINT_URL": self.endpoint}.items():
            self._saved[name] = os.environ.get(name)
            os.environ[name] = value
        self._client().create_bucket(Bucket=BUCKET)
        return self

    def __exit__(self, *exc) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._server.stop()

    def _client(self):
        return boto3.session.Session().client("s3", endpoint_url=self.endpoint, region_name=_ENV["AWS_DEFAULT_REGION"])

    def land(self, landing: Path, folder: Path) -> tuple[str, str, str]:
        """Upload the hour's files under the same layout; (landing URL, the floor's s3() glob, function)."""
        prefix = f"{ROOT}/{folder.relative_to(landing).as_posix()}"
        client = self._client()
        for path in sorted(folder.iterdir()):
            client.upload_file(str(path), BUCKET, f"{prefix}/{path.name}")
        return f"s3://{BUCKET}/{ROOT}", f"{self.endpoint}/{BUCKET}/{prefix}/*", "s3"
