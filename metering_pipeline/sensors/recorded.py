"""The landing fingerprint each hour had when `accepted_events` last materialized it, read from the Dagster instance.

Two queries whatever the window: the latest materialization's storage id per partition,
then those records. No ClickHouse: the sensor never touches the warehouse (nor the chDB
directory, which only one process may hold).
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg
from dagster._core.events import DagsterEventType

ACCEPTED_EVENTS_KEY = dg.AssetKey("accepted_events")
FINGERPRINTS = "landing_fingerprints"


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
    latest = instance.event_log_storage.get_latest_storage_id_by_partition(
        ACCEPTED_EVENTS_KEY, DagsterEventType.ASSET_MATERIALIZATION, partitions=wanted
    )
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
