"""What a meter's aggregation means, in one place: over an hour's events, and rolled up over hours.

Over events (usage_hourly): count counts them, sum / max / min aggregate the value, and
unique_count counts distinct values.

Over 15-minute windows (usage_quarter_hourly): the same rule over the window's events, so an
hour's windows roll up to its usage_hourly row exactly as hours roll up to a day (`OVER_HOURS`:
count and sum add, max and min take the extreme); a window's unique_count is distinct within the
window only and is never summed: a local day or month recounts it from `events`.

Over hours (every Python reader that rolls usage_hourly up: the CLI, the demo, the alerts):
count and sum meters add their hourly values, max and min meters take the max or min of
them. A unique_count meter cannot be rolled up from hourly values (a user active in two
hours is one user), so it is recomputed from `events` over the whole period:
`meter_events` is the one reading of a meter's distinct values, `DISTINCT_COUNT` counts them.

The dbt marts hold the same rule in SQL (macros/json.sql `rollup_value`, the
int_unique_meter_events model); these builders are for the Python side only.
"""

from decimal import Decimal

from metering_pipeline.catalog import Meter
from metering_pipeline.catalog.sql import meter_value
from metering_pipeline.warehouse.tables import EVENTS

DISTINCT_COUNT = "toDecimal128(uniqExact(v), 9)"
OVER_EVENTS = {
    "count": "toDecimal128(count(), 9)",
    "sum": "sum(v)",
    "max": "max(v)",
    "min": "min(v)",
    "unique_count": DISTINCT_COUNT,
}
OVER_HOURS = {"count": "sum", "sum": "sum", "max": "max", "min": "min"}  # unique_count: recomputed from events
RECOMPUTED = "unique_count"
# The 15-minute window an event falls in, from its exact time: every UTC offset in use is a multiple
# of 15 minutes, so every local day and month starts on one of these boundaries.
QUARTER_HOUR = "toDateTime(toStartOfFifteenMinutes(time), 'UTC')"


def rollup(value: str = "value", aggregation: str = "any(aggregation)") -> str:
    """SQL rolling hourly `value`s up per group, by the aggregation the group's rows carry
    (`aggregation` is an expression of it); groups must not mix meters, nor hold unique_count."""
    extremes = ", ".join(f"{aggregation} = '{name}', {name}({value})" for name in ("max", "min"))
    return f"multiIf({extremes}, sum({value}))"


def rollup_of(aggregation: str, value: str = "value") -> str:
    """The same roll-up for one known aggregation: `sum(value)`, `max(value)` or `min(value)`."""
    return f"{OVER_HOURS[aggregation]}({value})"


def combine(aggregation: str, running: Decimal | None, value: Decimal) -> Decimal:
    """One more hour rolled into a running value (None before the first hour)."""
    if running is None:
        return value
    how = OVER_HOURS[aggregation]
    return max(running, value) if how == "max" else min(running, value) if how == "min" else running + value


def meter_events(meter: Meter, where: str, columns: str = "tenant_id, hour") -> tuple[str, dict]:
    """SELECT of the `columns` of the meter's events matching `where`, with the meter's distinct value
    as `v`: events without a value are left out, as usage_hourly leaves them out."""
    value, params = meter_value(meter, "data", "v")
    sql = f"SELECT {columns}, {value} AS v FROM `{EVENTS}` WHERE type = {{event_type:String}} AND {where} AND v IS NOT NULL"
    return sql, {**params, "event_type": meter.event_type}
