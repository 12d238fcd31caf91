"""The usage SQL: one SELECT per meter giving both grains of the hour in one scan, every catalog value bound."""

from metering_pipeline.catalog import Catalog, Meter
from metering_pipeline.catalog.sql import json_text, meter_value
from metering_pipeline.usage.aggregation import OVER_EVENTS, QUARTER_HOUR
from metering_pipeline.warehouse.tables import EVENTS, USAGE_QUARTER_HOURLY, columns

# The columns both grains share, in usage_quarter_hourly's order (usage_hourly has them without window_start).
GROUP_COLUMNS = "tenant_id, billing_account_id, meter, event_type, aggregation, unit, dimensions, value, event_count, bytes_ingested"
# The work table both grains are aggregated into before each goes to its own staging table
# (`hour` and `loaded_at` stay at their defaults there; split_grain sets them).
GRAINS_COLUMNS = f"{columns(USAGE_QUARTER_HOURLY)}, hourly UInt8"
# grouping() is 1 for a column the grouping set leaves out (the SQL standard's meaning), whatever the server's default.
GROUPING_SETTINGS = {"force_grouping_standard_compatibility": 1}


def dimensions_map(meter: Meter, index: int) -> tuple[str, dict]:
    """The meter's dimensions of one event as a Map(String, String), names in sorted order (a missing value is '')."""
    if not meter.group_by:
        return "CAST(map(), 'Map(String, String)')", {}
    pairs, params = [], {}
    for position, (name, keys) in enumerate(sorted(meter.dimension_keys.items())):
        expr, p = json_text("data", keys, f"m{index}_d{position}")
        params.update(p)
        params[f"m{index}_n{position}"] = name
        pairs.append(f"{{m{index}_n{position}:String}}, coalesce({expr}, '')")
    return f"map({', '.join(pairs)})", params


def meter_select(meter: Meter, index: int, events: str = EVENTS) -> tuple[str, dict]:
    """One meter's rows of the hour at both grains, from one scan of its events: the hour's rows
    (`hourly` = 1) and one per 15-minute window (`window_start`, `hourly` = 0). GROUPING SETS
    apply the same aggregate to the same events for both, so the two grains cannot drift apart,
    and a unique_count is counted distinct per window and per hour, never summed."""
    value, params = meter_value(meter, "data", f"m{index}_v")
    dimensions, dim_params = dimensions_map(meter, index)
    params.update(dim_params)
    params.update({f"m{index}_{k}": getattr(meter, k) for k in ("name", "event_type", "aggregation", "unit")})
    sql = f"""
        SELECT window_start, tenant_id, billing_account_id,
               {{m{index}_name:String}} AS meter, {{m{index}_event_type:String}} AS event_type,
               {{m{index}_aggregation:String}} AS aggregation, {{m{index}_unit:String}} AS unit,
               dimensions, {OVER_EVENTS[meter.aggregation]} AS value, count() AS event_count,
               sum(bytes) AS bytes_ingested, toUInt8(grouping(window_start)) AS hourly
        FROM (
            SELECT {QUARTER_HOUR} AS window_start, tenant_id, billing_account_id, bytes, {value} AS v, {dimensions} AS dimensions
            FROM `{events}`
            WHERE hour = {{hour:DateTime('UTC')}} AND type = {{m{index}_event_type:String}}
        )
        WHERE v IS NOT NULL  -- an event without a value (missing_value: skip) does not contribute
        GROUP BY GROUPING SETS ((tenant_id, billing_account_id, dimensions), (window_start, tenant_id, billing_account_id, dimensions))
    """
    return sql, params


def usage_insert(catalog: Catalog, target: str, types: set[str]) -> tuple[str, dict] | None:
    """INSERT of the hour's rows at both grains, for every meter of the event `types` present, into
    `target` (a work table of GRAINS_COLUMNS); None when no meter has events. A meter without
    events has no rows, so its SELECT (a scan of the hour) is left out."""
    selects, params = [], {}
    for index, meter in enumerate(catalog.meters):
        if meter.event_type not in types:
            continue
        sql, p = meter_select(meter, index)
        selects.append(sql)
        params.update(p)
    if not selects:
        return None
    return f"INSERT INTO `{target}` (window_start, {GROUP_COLUMNS}, hourly) " + " UNION ALL ".join(selects), params


def split_grain(grains: str, target: str, quarter_hours: bool) -> str:
    """INSERT of one grain's rows from the `grains` work table into `target` (a staging copy of
    usage_hourly, or with `quarter_hours` of usage_quarter_hourly)."""
    window = "window_start, " if quarter_hours else ""
    return (
        f"INSERT INTO `{target}` (hour, {window}{GROUP_COLUMNS}, loaded_at) "
        f"SELECT {{hour:DateTime('UTC')}}, {window}{GROUP_COLUMNS}, {{loaded_at:DateTime('UTC')}} "
        f"FROM `{grains}` WHERE hourly = {0 if quarter_hours else 1}"
    )
