"""The landing zone: `<landing>/<source>/YYYY/MM/DD/HH/*.ndjson[.gz]`, on a local disk or S3."""

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import dagster as dg
from botocore.exceptions import ClientError
from pydantic import Field, PrivateAttr

from metering_pipeline.resources.s3 import s3_client, split_s3_url

SUFFIXES = (".ndjson", ".ndjson.gz")
# What a folder may hold for the engine to read it through a glob: ClickHouse's glob characters
# (* ? { }) have no escape, and an S3 URL's key is taken as written (no percent-encoding needed).
_LOCAL_GLOB_SAFE = re.compile(r"[^*?{}\\]*")
_S3_GLOB_SAFE = re.compile(r"[A-Za-z0-9._/=-]*")


class FileVanished(Exception):
    """A listed landing object was gone when the hour came to read it."""


def describe_open_error(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class LandingFile:
    """One landed file. `name` is relative to the landing root and orders files for dedup."""

    name: str
    size: int
    version: str  # ETag on S3, mtime in ns locally: changes when the content does

    @property
    def compressed(self) -> bool:
        return self.name.endswith(".gz")


def landing_digest(files: Iterable[LandingFile]) -> str:
    """Digest of a file set (names, sizes, versions); order-free. Ingest records it, the late-file sensor compares it."""
    triples = sorted((f.name, f.size, f.version) for f in files)
    return hashlib.sha256(json.dumps(triples).encode()).hexdigest()[:16]


def hour_prefix(source: str, hour: datetime) -> str:
    return f"{source}/{hour:%Y/%m/%d/%H}/"


class LandingZone(dg.ConfigurableResource):
    """Lists and opens an hour's files; a local directory by default, `s3://bucket/prefix` in production."""

    url: str = Field(description="Local directory or s3://bucket/prefix")
    region: str | None = Field(default=None, description="AWS region for an S3 landing zone")
    reader: str = Field(
        default="engine",
        description="engine: ClickHouse reads the files in place (file()/s3()); python: the pipeline's process reads them",
    )
    # One client per resource instance: creating a boto3 client costs ~0.3 s, too much per file.
    _s3: object = PrivateAttr(default=None)

    def _client(self):
        if self._s3 is None:
            self._s3 = s3_client(self.region)
        return self._s3

    @property
    def on_s3(self) -> bool:
        return self.url.startswith("s3://")

    def list_hour(self, source: str, hour: datetime) -> list[LandingFile]:
        prefix = hour_prefix(source, hour)
        files = self._list_s3(prefix) if self.on_s3 else self._list_local(prefix)
        return sorted((f for f in files if f.name.endswith(SUFFIXES)), key=lambda f: f.name)

    def _list_local(self, prefix: str) -> list[LandingFile]:
        folder = Path(self.url) / prefix
        if not folder.is_dir():
            return []
        found = []
        for entry in os.scandir(folder):
            if entry.is_file(follow_symlinks=False):
                stat = entry.stat()
                found.append(LandingFile(prefix + entry.name, stat.st_size, str(stat.st_mtime_ns)))
        return found

    def _list_s3(self, prefix: str) -> list[LandingFile]:
        bucket, root = split_s3_url(self.url)
        base = f"{root}/" if root else ""
        found = []
        pages = self._client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base + prefix)
        for page in pages:
            for item in page.get("Contents", []):
                relative = item["Key"][len(base) :]
                if "/" not in relative[len(prefix) :]:
                    found.append(LandingFile(relative, item["Size"], item["ETag"].strip('"')))
        return found

    def engine_glob(self, source: str, hour: datetime) -> str | None:
        """The glob under which ClickHouse's file() (local) or s3() finds the hour's files of `source`,
        or None when the folder's own name would be read as a glob (ingest/engine.py reads it in Python then)."""
        prefix = hour_prefix(source, hour)
        if not self.on_s3:
            folder = os.path.join(os.path.abspath(self.url), prefix)
            return folder + "*" if _LOCAL_GLOB_SAFE.fullmatch(folder) else None
        bucket, root = split_s3_url(self.url)
        key = f"{root}/{prefix}" if root else prefix
        endpoint = self._client().meta.endpoint_url.rstrip("/")
        return f"{endpoint}/{bucket}/{key}*" if _S3_GLOB_SAFE.fullmatch(key) else None

    def engine_path(self, landed: LandingFile) -> str:
        """The file as the engine's `_path` virtual column names it."""
        if not self.on_s3:
            return os.path.join(os.path.abspath(self.url), landed.name)
        bucket, root = split_s3_url(self.url)
        return f"{bucket}/{root}/{landed.name}" if root else f"{bucket}/{landed.name}"

    def open(self, landed: LandingFile):
        """A binary stream of the file's stored (possibly compressed) bytes.

        Raises OSError (locally) or FileVanished (an S3 object deleted since it was listed) when
        the file cannot be opened; other S3 errors (after botocore's retries) propagate.
        """
        if not self.on_s3:
            return open(Path(self.url) / landed.name, "rb")
        bucket, root = split_s3_url(self.url)
        key = f"{root}/{landed.name}" if root else landed.name
        try:
            return self._client().get_object(Bucket=bucket, Key=key)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise FileVanished(f"s3://{bucket}/{key} no longer exists") from None
            raise
