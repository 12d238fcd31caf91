"""Period-to-date usage per tenant, hour by hour, for the meters that carry quotas.

A quota period is the tenant's billing period (its calendar: zone and anchor day; a UTC month
by default), which may start and end inside a UTC hour (Asia/Kolkata: 18:30 UTC), so usage is
read from usage_quarter_hourly's windows inside the period and rolled up per UTC hour by the
meter's aggregation (usage/aggregation.py): count and sum meters accumulate, max meters keep the
running maximum. A unique_count meter is recomputed from `events` inside the period: each value
is counted once, in the hour it was first seen, so the period-to-date is the running sum of
first sightings. That needs the period's raw events: an `events` TTL shorter than a month breaks it.
"""

from datetime import datetime
from decimal import Decimal

from metering_pipeline.catalog import Meter
from metering_pipeline.usage.aggregation import RECOMPUTED, combine, meter_events, rollup_of
from metering_pipeline.warehouse.tables import USAGE_QUARTER_HOURLY

_HOURS = "hour >= toStartOfHour({start:DateTime('UTC')}) AND hour <= {through:DateTime('UTC')} AND tenant_id IN {tenants:Array(String)}"


def _windows_sql(meter: Meter) -> str:
    return (
        f"SELECT tenant_id, hour, {rollup_of(meter.aggregation)} FROM `{USAGE_QUARTER_HOURLY}` "
        f"WHERE meter = {{meter:String}} AND {_HOURS} "
        "AND window_start >= {start:DateTime('UTC')} AND window_start < {end:DateTime('UTC')} "
        "GROUP BY tenant_id, hour ORDER BY tenant_id, hour"
    )


def _first_seen_sql(meter: Meter) -> tuple[str, dict]:
    inside = f"{_HOURS} AND time >= {{start:DateTime('UTC')}} AND time < {{end:DateTime('UTC')}}"
    events, params = meter_events(meter, inside)
    sql = (
        "SELECT tenant_id, first_hour, toDecimal128(count(), 9) FROM ("
        f" SELECT tenant_id, v, min(hour) AS first_hour FROM ({events}) GROUP BY tenant_id, v"
        ") GROUP BY tenant_id, first_hour ORDER BY tenant_id, first_hour"
    )
    return sql, params


def period_to_date(
    client, meter: Meter, tenants: list[str], start: datetime, end: datetime, through: datetime
) -> dict[str, list[tuple[datetime, Decimal]]]:
    """{tenant: [(hour, usage of the period [start, end) through that hour)]} for hours with usage, in order.
    All naive UTC; `tenants` share the period."""
    params = {"start": start, "end": end, "through": through, "tenants": tenants}
    if meter.aggregation == RECOMPUTED:
        sql, extra = _first_seen_sql(meter)
        params.update(extra)
        how = "sum"  # first sightings add up
    else:
        sql = _windows_sql(meter)
        params["meter"] = meter.name
        how = meter.aggregation
    series: dict[str, list[tuple[datetime, Decimal]]] = {}
    for tenant, hour, value in client.query(sql, parameters=params).result_rows:
        points = series.setdefault(tenant, [])
        points.append((hour, combine(how, points[-1][1] if points else None, value)))
    return series
