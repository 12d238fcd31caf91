"""S3 clients with bounded, jittered retries; boto3 reads AWS_ENDPOINT_URL and the credential chain itself."""

from urllib.parse import urlsplit

import boto3
from botocore.config import Config


def split_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ("bucket", "some/prefix") with no trailing slash."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"not an s3://bucket/prefix URL: {url!r}")
    return parts.netloc, parts.path.strip("/")


def s3_client(region: str | None = None, max_attempts: int = 6, timeout_seconds: float = 30.0):
    """botocore's standard retry mode: throttling, 5xx and connection errors, exponential backoff with jitter."""
    config = Config(
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=timeout_seconds,
        read_timeout=timeout_seconds,
        region_name=region,
    )
    return boto3.session.Session().client("s3", config=config)
