"""Which hours' landing files changed after they were processed: the facts the late-file sensor acts on.

An hour is compared by digest: the one its last `accepted_events` materialization recorded
(metadata `landing_fingerprints`) against the one its landing folders give now. Ingest and
this module call the same `landing_digest`, so the digests agree exactly when no file was
added, removed or rewritten. Reading the recorded side costs two queries whatever the
window: the latest materialization's storage id per partition, then those records. No
ClickHouse: the sensor never touches the warehouse (nor the chDB directory, which only one
process may hold).

The window is the last complete hours back over the lookback
(METERING_LATE_FILE_LOOKBACK_DAYS, 7 days by default).
"""

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import dagster as dg

from metering_pipeline.catalog import Catalog
from metering_pipeline.ingest.assets import ACCEPTED_EVENTS
from metering_pipeline.partitions import PARTITION_START, hour_start, partition_key_for
from metering_pipeline.resources.landing import LandingZone, landing_digest

ACCEPTED_EVENTS_KEY = dg.AssetKey(ACCEPTED_EVENTS)
FINGERPRINTS = "landing_fingerprints"
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


def hour_digest(landing: LandingZone, catalog: Catalog, partition_key: str) -> str:
    """What an hour's landing folders hold now, reduced to the digest ingest records."""
    hour = hour_start(partition_key)
    return landing_digest(f for source in catalog.sources for f in landing.list_hour(source.name, hour))


@dataclass(frozen=True)
class Recorded:
    """The last materialization of one hour: its storage id orders it, its digest may be absent (hand-reported)."""

    storage_id: int
    digest: str | None


def _digest_of(record, partition_key: str) -> str | None:
    value = record.asset_materialization.metadata.get(FINGERPRINTS)
    if value is None:
        return None
    fingerprints = value.value if hasattr(value, "value") else value
    if isinstance(fingerprints, str):
        fingerprints = json.loads(fingerprints)
    return fingerprints.get(partition_key)


def recorded_fingerprints(instance: dg.DagsterInstance, partition_keys: Iterable[str]) -> dict[str, Recorded]:
    """{partition: Recorded} for the hours that were ever materialized; others are absent."""
    wanted = set(partition_keys)
    if not wanted:
        return {}
    latest = instance.get_latest_storage_id_by_partition(ACCEPTED_EVENTS_KEY, dg.DagsterEventType.ASSET_MATERIALIZATION, partitions=wanted)
    if not latest:
        return {}
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=ACCEPTED_EVENTS_KEY, storage_ids=list(latest.values())), limit=len(latest)
    ).records
    found = {}
    for record in records:
        key = record.partition_key
        found[key] = Recorded(record.storage_id, _digest_of(record, key))
    return found


def materialized_partitions(instance: dg.DagsterInstance) -> set[str]:
    return set(instance.get_materialized_partitions(ACCEPTED_EVENTS_KEY))


@dataclass(frozen=True)
class Change:
    key: str
    storage_id: int  # the materialization this change supersedes
    recorded: str
    current: str

    @property
    def run_key(self) -> str:
        """Same change, same key: ticks and daemon restarts cannot launch it twice; a new file set or a
        newer materialization (after which the same set can change again) gives a new key."""
        return f"late-files:{self.key}:{self.storage_id}:{self.current}"


def find_changes(instance: dg.DagsterInstance, landing: LandingZone, catalog: Catalog, keys) -> tuple[list[Change], list[str]]:
    """(changed hours, hours materialized without a fingerprint to compare). Never-materialized hours
    are not looked at: the hourly schedule (or a backfill) owns their first run."""
    changes, blind = [], []
    for key, recorded in sorted(recorded_fingerprints(instance, keys).items()):
        if recorded.digest is None:
            blind.append(key)
            continue
        current = hour_digest(landing, catalog, key)
        if current != recorded.digest:
            changes.append(Change(key, recorded.storage_id, recorded.digest, current))
    return changes, blind
