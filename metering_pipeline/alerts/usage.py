"""Month-to-date usage per tenant, hour by hour, for the meters that carry quotas.

Additive meters (count, sum) accumulate their hourly values and max meters keep the
running maximum, both read from usage_hourly. A unique_count meter cannot add hourly
uniques (a user active in two hours would count twice), so its month-to-date is counted
from `events` with uniqExact: each value is counted once, in the hour it was first seen.
That needs the month's raw events: an `events` TTL shorter than a month breaks it.
"""

from datetime import datetime
from decimal import Decimal

from metering_pipeline.catalog import Meter
from metering_pipeline.catalog.sql import meter_value
from metering_pipeline.warehouse.tables import EVENTS, USAGE_HOURLY

_WINDOW = "hour >= {start:DateTime('UTC')} AND hour <= {through:DateTime('UTC')} AND tenant_id IN {tenants:Array(String)}"


def _usage_hourly_sql(meter: Meter) -> str:
    combine = "max" if meter.aggregation == "max" else "sum"
    return (
        f"SELECT tenant_id, hour, {combine}(value) FROM `{USAGE_HOURLY}` "
        f"WHERE meter = {{meter:String}} AND {_WINDOW} GROUP BY tenant_id, hour ORDER BY tenant_id, hour"
    )


def _first_seen_sql(meter: Meter) -> tuple[str, dict]:
    value, params = meter_value(meter, "data", "v")
    sql = (
        "SELECT tenant_id, first_hour, toDecimal128(count(), 9) FROM ("
        " SELECT tenant_id, v, min(hour) AS first_hour FROM ("
        f"  SELECT tenant_id, hour, {value} AS v FROM `{EVENTS}` WHERE type = {{event_type:String}} AND {_WINDOW}"
        " ) WHERE v IS NOT NULL GROUP BY tenant_id, v"
        ") GROUP BY tenant_id, first_hour ORDER BY tenant_id, first_hour"
    )
    return sql, params


def month_to_date(client, meter: Meter, tenants: list[str], start: datetime, through: datetime) -> dict[str, list[tuple[datetime, Decimal]]]:
    """{tenant: [(hour, month-to-date usage through that hour)]} for hours with usage, in order."""
    params = {"start": start.replace(tzinfo=None), "through": through.replace(tzinfo=None), "tenants": tenants}
    if meter.aggregation == "unique_count":
        sql, extra = _first_seen_sql(meter)
        params.update(extra, event_type=meter.event_type)
    else:
        sql = _usage_hourly_sql(meter)
        params["meter"] = meter.name
    series: dict[str, list[tuple[datetime, Decimal]]] = {}
    for tenant, hour, value in client.query(sql, parameters=params).result_rows:
        points = series.setdefault(tenant, [])
        previous = points[-1][1] if points else None
        if previous is None:
            total = value
        else:
            total = max(previous, value) if meter.aggregation == "max" else previous + value
        points.append((hour, total))
    return series
