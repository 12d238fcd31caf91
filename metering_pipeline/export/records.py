"""Billing records: one per (tenant, billing account, meter, dimensions, window, revision), one NDJSON line each.

Serialization is deterministic: fixed field order, dimensions sorted by name, compact
separators, UTF-8 (non-ASCII kept as is), `\\n` after every line, and only deterministic
metadata (the partition key and the catalog hash; no clock, no run id).
"""

import json
from dataclasses import dataclass
from datetime import datetime

from metering_pipeline.catalog import Catalog
from metering_pipeline.export.delta import Amount, UsageKey
from metering_pipeline.export.ids import record_id
from metering_pipeline.export.layout import rfc3339
from metering_pipeline.export.quantity import quantity_text

USAGE, CORRECTION = "usage", "correction"


@dataclass(frozen=True)
class Window:
    partition_key: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Record:
    key: UsageKey
    amount: Amount  # event_type and unit resolved
    revision: int
    id: str
    fields: dict

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
    rid = record_id(key.tenant_id, key.billing_account_id, key.meter, dimensions, start, revision)
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
    return Record(key, amount, revision, rid, fields)


def build_records(deltas: dict[UsageKey, Amount], catalog: Catalog, revision: int, window: Window) -> list[Record]:
    """Records in a fixed order: by meter, tenant, billing account, dimensions."""
    return [build_record(key, describe(catalog, key, deltas[key]), revision, window, catalog.digest) for key in sorted(deltas)]


def serialize(fields: dict) -> bytes:
    return (json.dumps(fields, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
