"""Where billing exports go: `s3://bucket/prefix` through boto3, or a local directory with the same layout.

Keys are relative to the export root. On S3 every PUT carries its Content-Type and a
SHA-256 checksum the service verifies; each call is retried by our own bounded loop
(metering_pipeline.export.retry: backoff with full jitter, botocore's own retries off so
attempts are not multiplied) and every retry is counted for run metadata. Locally a write
goes to a temp file in the target folder, is fsynced, then renamed over the key: readers
see the old object or the new one, never a partial file; a temp file a killed write left
behind is swept by the next write into its folder once it is an hour old.
"""

import base64
import hashlib
import os
import tempfile
import time
from pathlib import Path

import dagster as dg
from botocore.exceptions import ClientError
from pydantic import Field

from metering_pipeline.export.chunks import Limits
from metering_pipeline.export.grain import Grain, grain_named
from metering_pipeline.export.retry import RetryPolicy, call_with_retries
from metering_pipeline.resources.s3 import s3_client, split_s3_url

TEMP_PREFIX = ".tmp-"
STALE_TEMP_SECONDS = 3600  # far longer than any write; younger temp files may be a concurrent writer's


class S3Objects:
    def __init__(self, url: str, region: str | None, policy: RetryPolicy, timeout_seconds: float):
        self.bucket, self.root = split_s3_url(url)
        self.client = s3_client(region, max_attempts=0, timeout_seconds=timeout_seconds)
        self.policy = policy
        self.retries = 0

    def _key(self, key: str) -> str:
        return f"{self.root}/{key}" if self.root else key

    def _call(self, what: str, operation):
        return call_with_retries(operation, self.policy, what, on_retry=self._count)

    def _count(self, exc) -> None:
        self.retries += 1

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def put(self, key: str, body: bytes, content_type: str) -> None:
        checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()
        self._call(
            f"PUT {self.location(key)}",
            lambda: self.client.put_object(
                Bucket=self.bucket,
                Key=self._key(key),
                Body=body,
                ContentType=content_type,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum,
            ),
        )

    def get(self, key: str) -> bytes | None:
        def fetch():
            try:
                return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None
                raise

        return self._call(f"GET {self.location(key)}", fetch)

    def delete(self, key: str) -> None:
        self._call(f"DELETE {self.location(key)}", lambda: self.client.delete_object(Bucket=self.bucket, Key=self._key(key)))

    def _pages(self, prefix: str, **extra):
        token = None
        while True:
            args = {"Bucket": self.bucket, "Prefix": self._key(prefix), **extra}
            if token:
                args["ContinuationToken"] = token
            page = self._call(f"LIST {self.location(prefix)}", lambda args=args: self.client.list_objects_v2(**args))
            yield page
            if not page.get("IsTruncated"):
                return
            token = page["NextContinuationToken"]

    def keys(self, prefix: str) -> dict[str, int]:
        """{key: size} of every object under `prefix` (a folder ending in `/`)."""
        cut = len(self._key(""))
        return {item["Key"][cut:]: item["Size"] for page in self._pages(prefix) for item in page.get("Contents", [])}

    def folders(self, prefix: str = "") -> list[str]:
        """Names of the folders directly under `prefix`."""
        cut = len(self._key(prefix))
        return sorted(p["Prefix"][cut:].rstrip("/") for page in self._pages(prefix, Delimiter="/") for p in page.get("CommonPrefixes", []))


class LocalObjects:
    def __init__(self, root: str):
        self.root = Path(root).resolve()
        self.retries = 0

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise ValueError(f"key escapes the export root: {key!r}")
        return path

    def location(self, key: str) -> str:
        return str(self._path(key))

    def put(self, key: str, body: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        _sweep_stale_temps(path.parent)
        handle, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(body)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        return path.read_bytes() if path.is_file() else None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys(self, prefix: str) -> dict[str, int]:
        folder = self.root / prefix
        if not folder.is_dir():
            return {}
        return {
            path.relative_to(self.root).as_posix(): path.stat().st_size
            for path in folder.rglob("*")
            if path.is_file() and not path.name.startswith(TEMP_PREFIX)
        }

    def folders(self, prefix: str = "") -> list[str]:
        folder = self.root / prefix
        return sorted(entry.name for entry in folder.iterdir() if entry.is_dir()) if folder.is_dir() else []


def _sweep_stale_temps(folder: Path) -> None:
    cutoff = time.time() - STALE_TEMP_SECONDS
    for temp in folder.glob(f"{TEMP_PREFIX}*"):
        try:
            if temp.stat().st_mtime < cutoff:
                temp.unlink()
        except FileNotFoundError:  # another writer renamed or swept it first
            pass


class ExportStore(dg.ConfigurableResource):
    """The billing export destination (METERING_EXPORT_URL), its object limits and its grain (METERING_EXPORT_GRAIN)."""

    url: str = Field(description="s3://bucket/prefix or a local directory")
    region: str | None = Field(default=None, description="AWS region of the bucket")
    max_records_per_object: int = Field(default=50, gt=0)
    max_bytes_per_object: int = Field(default=2_000_000, gt=0)
    retry_attempts: int = Field(default=6, gt=0, description="Tries per S3 call before the step fails")
    retry_base_seconds: float = Field(default=0.25, ge=0, description="First backoff ceiling; doubles per retry")
    retry_max_seconds: float = Field(default=8.0, ge=0, description="Backoff ceiling")
    timeout_seconds: float = Field(default=30.0, gt=0, description="S3 connect and read timeout")
    grain: str = Field(default="hour", description="`hour` (one record window per hour) or `quarter_hour` (15-minute windows)")

    @property
    def on_s3(self) -> bool:
        return self.url.startswith("s3://")

    @property
    def export_grain(self) -> Grain:
        """The grain, checked: an unknown name fails the step before anything is read or written."""
        return grain_named(self.grain)

    @property
    def limits(self) -> Limits:
        return Limits(self.max_records_per_object, self.max_bytes_per_object)

    def open(self) -> S3Objects | LocalObjects:
        if not self.on_s3:
            return LocalObjects(self.url)
        policy = RetryPolicy(self.retry_attempts, self.retry_base_seconds, self.retry_max_seconds)
        return S3Objects(self.url, self.region, policy, self.timeout_seconds)
