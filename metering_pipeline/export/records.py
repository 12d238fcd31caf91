"""Billing records and their ids: one record per (tenant, billing account, meter, dimensions, window, revision), one NDJSON line each.

Serialization is deterministic: fixed field order, dimensions sorted by name, compact
separators, UTF-8 (non-ASCII kept as is), `\\n` after every line, and only deterministic
metadata (the partition key and the catalog hash; no clock, no run id).

Ids are deterministic UUIDv5: the same inputs give the same id on every run and every
retry. Names are canonical JSON arrays (a type tag first), so no choice of separator inside
a tenant, meter or dimension value can make two different inputs collide. NAMESPACE is
uuid5(NAMESPACE_URL, "urn:metering-pipeline:billing-export") and must never change:
downstream systems deduplicate on these ids.

Windows shorter than the hour (the quarter-hour grain, grain.py) add their window to the id
names (`window_extent`): a quarter hour starting on the hour never shares a record id with the
hour, and the four quarters of one revision never share an object id. A whole-hour window adds
nothing, so every id issued before finer windows existed stays as it was.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from metering_pipeline.catalog import Catalog
from metering_pipeline.export.amounts import Amount, UsageKey, quantity_text
from metering_pipeline.partitions import hour_window

NAMESPACE = uuid.UUID("a3a1ab43-d91e-5f79-8ef0-747bfa9a32ac")
USAGE, CORRECTION = "usage", "correction"


def _uuid5(*parts) -> str:
    name = json.dumps(list(parts), ensure_ascii=False, separators=(",", ":"))
    return str(uuid.uuid5(NAMESPACE, name))


def object_id(partition_key: str, meter: str, revision: int, chunk_index: int, extent: tuple[str, ...] = ()) -> str:
    """Id of one object; `extent` is `window_extent` of its window (empty for the whole hour)."""
    return _uuid5("object", partition_key, meter, int(revision), int(chunk_index), *extent)


def record_id(
    tenant_id: str, billing_account_id: str, meter: str, dimensions: dict, window_start: str, revision: int, extent: tuple[str, ...] = ()
) -> str:
    """Id of one record; `dimensions` enter sorted by name, `window_start` as its RFC 3339 text,
    `extent` is `window_extent` of its window (empty for the whole hour)."""
    return _uuid5("record", tenant_id, billing_account_id, meter, sorted(dimensions.items()), window_start, int(revision), *extent)


def rfc3339(moment: datetime) -> str:
    """`2026-11-22T10:00:00Z`: UTC, second precision, `Z`."""
    if moment.utcoffset() is None or moment.utcoffset().total_seconds():
        raise ValueError(f"expected an aware UTC datetime, got {moment!r}")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Window:
    partition_key: str
    start: datetime
    end: datetime


def window_of(partition_key: str) -> Window:
    return Window(partition_key, *hour_window(partition_key))


def window_extent(window: Window) -> tuple[str, ...]:
    """What a window adds to its ids: nothing for a whole hour, `("PT<n>M", start, end)` for a shorter one."""
    length = window.end - window.start
    if length == timedelta(hours=1):
        return ()
    return (f"PT{int(length.total_seconds()) // 60}M", rfc3339(window.start), rfc3339(window.end))


@dataclass(frozen=True)
class Record:
    key: UsageKey
    amount: Amount  # event_type and unit resolved
    revision: int
    id: str
    fields: dict
    window: Window

    def line(self) -> bytes:
        return serialize(self.fields)


def kind_of(revision: int) -> str:
    return USAGE if revision == 0 else CORRECTION


def describe(catalog: Catalog, key: UsageKey, amount: Amount) -> Amount:
    """event_type and unit from the catalog; from usage or the ledger for a meter no longer in it."""
    try:
        meter = catalog.meter(key.meter)
        return Amount(amount.quantity, amount.event_count, meter.event_type, meter.unit)
    except KeyError:
        return amount


def build_record(key: UsageKey, amount: Amount, revision: int, window: Window, catalog_hash: str) -> Record:
    dimensions = dict(key.dimensions)
    start = rfc3339(window.start)
    rid = record_id(key.tenant_id, key.billing_account_id, key.meter, dimensions, start, revision, window_extent(window))
    fields = {
        "id": rid,
        "meter": key.meter,
        "event_type": amount.event_type,
        "tenant_id": key.tenant_id,
        "billing_account_id": key.billing_account_id,
        "dimensions": dimensions,
        "window_start": start,
        "window_end": rfc3339(window.end),
        "quantity": quantity_text(amount.quantity),
        "unit": amount.unit,
        "event_count": amount.event_count,
        "revision": revision,
        "kind": kind_of(revision),
        "metadata": {"partition_key": window.partition_key, "catalog_hash": catalog_hash},
    }
    return Record(key, amount, revision, rid, fields, window)


def build_records(deltas: dict[UsageKey, Amount], catalog: Catalog, revision: int, window: Window) -> list[Record]:
    """Records in a fixed order: by meter, tenant, billing account, dimensions."""
    return [build_record(key, describe(catalog, key, deltas[key]), revision, window, catalog.digest) for key in sorted(deltas)]


def serialize(fields: dict) -> bytes:
    return (json.dumps(fields, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
