"""Hourly UTC partitions: the unit of work, rerun and billing window.

The first hour is METERING_PARTITION_START (default 2025-01-01-00:00), read when the
definitions load because a partitions definition is part of them: history older than the
default needs it set in the environment of the code location (UI, daemon and CLI alike).
"""

import os
from datetime import UTC, datetime, timedelta

import dagster as dg

START_ENV = "METERING_PARTITION_START"
DEFAULT_START = "2025-01-01-00:00"
PARTITION_FORMAT = "%Y-%m-%d-%H:%M"


def partition_start(text: str | None) -> str:
    """The first partition key from `YYYY-MM-DD` or `YYYY-MM-DD-HH:00`; a clear error otherwise."""
    text = (text or DEFAULT_START).strip()
    candidate = f"{text}-00:00" if len(text) == 10 else text
    try:
        hour_start(candidate)
    except ValueError:
        raise ValueError(f"{START_ENV} must be YYYY-MM-DD or YYYY-MM-DD-HH:00 (UTC), got {text!r}") from None
    return candidate


def hour_start(partition_key: str) -> datetime:
    """Parse a partition key strictly; anything else (CLI, sensors) is refused before it reaches SQL."""
    try:
        start = datetime.strptime(partition_key, PARTITION_FORMAT)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not an hourly partition key (YYYY-MM-DD-HH:00): {partition_key!r}") from exc
    if start.minute:
        raise ValueError(f"hourly partition keys start on the hour: {partition_key!r}")
    if start.strftime(PARTITION_FORMAT) != partition_key:  # strptime also takes `2026-11-22-9:00`, ` 2026-...`
        raise ValueError(f"not an hourly partition key (YYYY-MM-DD-HH:00): {partition_key!r}")
    return start.replace(tzinfo=UTC)


PARTITION_START = partition_start(os.environ.get(START_ENV))
hourly_partitions = dg.HourlyPartitionsDefinition(start_date=PARTITION_START, timezone="UTC")


def run_partition_keys(context) -> list[str]:
    """The hours a run covers, after checking that the key (or range) it was launched with is a canonical hour key.

    Dagster's hourly partitions parse keys leniently: `--partition 2026-11-22-10:30` is
    accepted and becomes the hour 11:00. A billing run must never process an hour other
    than the one it was asked for, so such a run fails before touching anything.
    """
    requested = context.partition_key_range
    for key in dict.fromkeys((requested.start, requested.end)):
        hour_start(key)
    return context.partition_keys


def hour_window(partition_key: str) -> tuple[datetime, datetime]:
    """The half-open window [start, end) an hour partition covers."""
    start = hour_start(partition_key)
    return start, start + timedelta(hours=1)


def partition_key_for(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d-%H:00")
