"""The hours the late-file sensor watches: the last complete hours back over the lookback."""

import os
from datetime import datetime, timedelta

from metering_pipeline.partitions import PARTITION_START, partition_key_for

LOOKBACK_ENV = "METERING_LATE_FILE_LOOKBACK_DAYS"
DEFAULT_LOOKBACK = timedelta(days=7)
HOUR = timedelta(hours=1)


def lookback_from_env() -> timedelta:
    """METERING_LATE_FILE_LOOKBACK_DAYS (may be fractional), read when definitions load; 7 days by default."""
    text = os.environ.get(LOOKBACK_ENV)
    if not text:
        return DEFAULT_LOOKBACK
    days = float(text)
    if days <= 0:
        raise ValueError(f"{LOOKBACK_ENV} must be a positive number of days, got {text!r}")
    return timedelta(days=days)


def lookback_keys(now: datetime, lookback: timedelta) -> list[str]:
    """Newest first: the last complete hour, then back until the lookback is covered."""
    last = now.replace(minute=0, second=0, microsecond=0) - HOUR
    count = max(1, int(lookback / HOUR))
    keys = (partition_key_for(last - i * HOUR) for i in range(count))
    return [key for key in keys if key >= PARTITION_START]
