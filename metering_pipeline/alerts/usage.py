"""Month-to-date usage per tenant, hour by hour, for the meters that carry quotas.

Hourly values roll up by the meter's aggregation (usage/aggregation.py), read from
usage_hourly: count and sum meters accumulate, max meters keep the running maximum. A
unique_count meter is recomputed from `events`: each value is counted once, in the hour it
was first seen, so the month-to-date is the running sum of first sightings. That needs the
month's raw events: an `events` TTL shorter than a month breaks it.
"""

from datetime import datetime
from decimal import Decimal

from metering_pipeline.catalog import Meter
from metering_pipeline.usage.aggregation import RECOMPUTED, combine, meter_events, rollup_of
from metering_pipeline.warehouse.tables import USAGE_HOURLY

_WINDOW = "hour >= {start:DateTime('UTC')} AND hour <= {through:DateTime('UTC')} AND tenant_id IN {tenants:Array(String)}"


def _usage_hourly_sql(meter: Meter) -> str:
    return (
        f"SELECT tenant_id, hour, {rollup_of(meter.aggregation)} FROM `{USAGE_HOURLY}` "
        f"WHERE meter = {{meter:String}} AND {_WINDOW} GROUP BY tenant_id, hour ORDER BY tenant_id, hour"
    )


def _first_seen_sql(meter: Meter) -> tuple[str, dict]:
    events, params = meter_events(meter, _WINDOW)
    sql = (
        "SELECT tenant_id, first_hour, toDecimal128(count(), 9) FROM ("
        f" SELECT tenant_id, v, min(hour) AS first_hour FROM ({events}) GROUP BY tenant_id, v"
        ") GROUP BY tenant_id, first_hour ORDER BY tenant_id, first_hour"
    )
    return sql, params


def month_to_date(
    client, meter: Meter, tenants: list[str], start: datetime, through: datetime
) -> dict[str, list[tuple[datetime, Decimal]]]:
    """{tenant: [(hour, month-to-date usage through that hour)]} for hours with usage, in order."""
    params = {"start": start.replace(tzinfo=None), "through": through.replace(tzinfo=None), "tenants": tenants}
    if meter.aggregation == RECOMPUTED:
        sql, extra = _first_seen_sql(meter)
        params.update(extra)
        how = "sum"  # first sightings add up
    else:
        sql = _usage_hourly_sql(meter)
        params["meter"] = meter.name
        how = meter.aggregation
    series: dict[str, list[tuple[datetime, Decimal]]] = {}
    for tenant, hour, value in client.query(sql, parameters=params).result_rows:
        points = series.setdefault(tenant, [])
        points.append((hour, combine(how, points[-1][1] if points else None, value)))
    return series
