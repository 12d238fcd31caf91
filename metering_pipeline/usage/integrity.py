"""Cross-check usage_hourly against the events it came from, independently of the usage SQL, and its
15-minute windows against it."""

from datetime import datetime

from metering_pipeline.catalog import Catalog
from metering_pipeline.catalog.sql import json_text
from metering_pipeline.usage.aggregation import RECOMPUTED, rollup
from metering_pipeline.warehouse.tables import EVENTS, USAGE_HOURLY, USAGE_QUARTER_HOURLY


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


def window_mismatches(client, hour: datetime) -> list[tuple]:
    """(meter, tenant, billing account, dimensions, hourly value, hourly events, windows' roll-up,
    windows' events) for every group of the hour whose 15-minute windows do not roll up to its
    usage_hourly row by the roll-up rule (count and sum add up exactly, max and min are the
    windows' extreme), or that exists at one grain only. A unique_count hour lies between its
    largest window and the sum of its windows (a value seen in two windows is one value)."""
    sql = f"""
        SELECT meter, tenant_id, billing_account_id, dims, any(aggregation_name) AS agg,
               sumIf(amount, side = 'hour') AS hourly, sumIf(events, side = 'hour') AS hourly_events,
               sumIf(amount, side = 'windows') AS windows, sumIf(events, side = 'windows') AS window_events,
               maxIf(peak, side = 'windows') AS largest, countIf(side = 'hour') AS hours, countIf(side = 'windows') AS rollups
        FROM (
            SELECT 'hour' AS side, meter, tenant_id, billing_account_id, toString(dimensions) AS dims, aggregation AS aggregation_name,
                   value AS amount, value AS peak, event_count AS events
            FROM `{USAGE_HOURLY}` WHERE hour = {{hour:DateTime('UTC')}}
            UNION ALL
            SELECT 'windows' AS side, meter, tenant_id, billing_account_id, toString(dimensions) AS dims,
                   any(aggregation) AS aggregation_name, {rollup()} AS amount, max(value) AS peak, sum(event_count) AS events
            FROM `{USAGE_QUARTER_HOURLY}` WHERE hour = {{hour:DateTime('UTC')}}
            GROUP BY meter, tenant_id, billing_account_id, dims
        )
        GROUP BY meter, tenant_id, billing_account_id, dims
        HAVING hours != 1 OR rollups != 1 OR hourly_events != window_events
            OR (agg = {{unique:String}} AND NOT (hourly >= largest AND hourly <= windows))
            OR (agg != {{unique:String}} AND hourly != windows)
        ORDER BY meter, tenant_id, billing_account_id, dims
    """
    params = {"hour": hour.replace(tzinfo=None), "unique": RECOMPUTED}
    rows = client.query(sql, parameters=params).result_rows
    return [(m, t, b, d, h, int(he), w, int(we)) for m, t, b, d, _, h, he, w, we, *_ in rows]
