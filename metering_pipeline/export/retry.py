"""Bounded retries with exponential backoff and full jitter, for S3 calls.

Retried: throttling (SlowDown, 429, ...), 5xx answers, checksum mismatches in transit,
connection resets, timeouts and truncated bodies. Anything else (403, 404, a bad request)
fails at once. After `attempts` tries the last error is raised as StoreUnavailable, which
names the operation and the count, so a persistent outage fails the step loudly.
"""

import random
import time
from dataclasses import dataclass

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError, IncompleteReadError

RETRYABLE_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ServiceUnavailable",
        "PriorRequestNotComplete",
        "BadDigest",
        "XAmzContentSHA256Mismatch",
    }
)


class StoreUnavailable(RuntimeError):
    """An export store operation still failed after the bounded retries."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_seconds: float = 0.25
    max_seconds: float = 8.0

    def delay(self, retry: int, rand=random.random) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**retry)]."""
        return rand() * min(self.max_seconds, self.base_seconds * (2**retry))


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return error.get("Code") in RETRYABLE_CODES or status == 429 or status >= 500
    return isinstance(exc, (ConnectionError, HTTPClientError, IncompleteReadError))


def call_with_retries(operation, policy: RetryPolicy, what: str, on_retry=lambda exc: None, sleep=time.sleep):
    """`operation()`, retried on transient errors; `on_retry(exc)` is told about every retry."""
    for attempt in range(1, policy.attempts + 1):
        try:
            return operation()
        except Exception as exc:
            if not is_retryable(exc):
                raise
            if attempt == policy.attempts:
                raise StoreUnavailable(f"{what} failed after {attempt} attempts: {exc}") from exc
            on_retry(exc)
            sleep(policy.delay(attempt - 1))
