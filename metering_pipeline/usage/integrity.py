"""Cross-check usage_hourly against the events it came from, independently of the usage SQL."""

from datetime import datetime

from metering_pipeline.catalog import Catalog
from metering_pipeline.catalog.sql import json_text
from metering_pipeline.warehouse.tables import EVENTS, USAGE_HOURLY


def _valued_counts(client, catalog: Catalog, params: dict) -> dict[str, int]:
    """Events of each `missing_value: skip` meter's type that carry its value: only those count for it."""
    skipping = [(i, m) for i, m in enumerate(catalog.meters) if m.missing_value == "skip"]
    if not skipping:
        return {}
    counts, bound = [], dict(params)
    for i, meter in skipping:
        text, p = json_text("data", meter.value_keys, f"v{i}")
        bound.update(p, **{f"t{i}": meter.event_type})
        counts.append(f"countIf(type = {{t{i}:String}} AND {text} IS NOT NULL)")
    row = client.query(f"SELECT {', '.join(counts)} FROM `{EVENTS}` WHERE hour = {{hour:DateTime('UTC')}}", parameters=bound).result_rows[0]
    return {meter.name: int(n) for (_, meter), n in zip(skipping, row)}


def count_mismatches(client, catalog: Catalog, hour: datetime) -> list[tuple[str, int, int]]:
    """(meter, events it meters, event_count in usage) wherever the two disagree: every event of its
    type, or for a `missing_value: skip` meter those that carry its value."""
    params = {"hour": hour.replace(tzinfo=None)}
    by_type = dict(
        client.query(
            f"SELECT type, count() FROM `{EVENTS}` WHERE hour = {{hour:DateTime('UTC')}} GROUP BY type", parameters=params
        ).result_rows
    )
    by_meter = dict(
        client.query(
            f"SELECT meter, sum(event_count) FROM `{USAGE_HOURLY}` WHERE hour = {{hour:DateTime('UTC')}} GROUP BY meter",
            parameters=params,
        ).result_rows
    )
    valued = _valued_counts(client, catalog, params)
    found = []
    for meter in catalog.meters:
        expected = valued.get(meter.name, by_type.get(meter.event_type, 0))
        got = int(by_meter.get(meter.name, 0))
        if expected != got:
            found.append((meter.name, expected, got))
    return found
