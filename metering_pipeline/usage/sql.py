"""The usage_hourly SQL, one SELECT per meter, every catalog value bound as a parameter."""

from metering_pipeline.catalog import Catalog, Meter
from metering_pipeline.catalog.sql import json_text, meter_value
from metering_pipeline.usage.aggregation import OVER_EVENTS, QUARTER_HOUR
from metering_pipeline.warehouse.tables import EVENTS


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


def meter_select(meter: Meter, index: int, events: str = EVENTS, quarter_hours: bool = False) -> tuple[str, dict]:
    """One meter's rows of the hour; with `quarter_hours`, one per 15-minute window (`window_start`)
    from the same events and the same aggregate, so the two grains cannot drift apart."""
    window, window_key = (f"{QUARTER_HOUR} AS window_start, ", "window_start, ") if quarter_hours else ("", "")
    value, params = meter_value(meter, "data", f"m{index}_v")
    dimensions, dim_params = dimensions_map(meter, index)
    params.update(dim_params)
    params.update({f"m{index}_{k}": getattr(meter, k) for k in ("name", "event_type", "aggregation", "unit")})
    sql = f"""
        SELECT {{hour:DateTime('UTC')}} AS hour, {window_key}tenant_id, billing_account_id,
               {{m{index}_name:String}} AS meter, {{m{index}_event_type:String}} AS event_type,
               {{m{index}_aggregation:String}} AS aggregation, {{m{index}_unit:String}} AS unit,
               dimensions, {OVER_EVENTS[meter.aggregation]} AS value, count() AS event_count,
               sum(bytes) AS bytes_ingested, {{loaded_at:DateTime('UTC')}} AS loaded_at
        FROM (
            SELECT {window}tenant_id, billing_account_id, bytes, {value} AS v, {dimensions} AS dimensions
            FROM `{events}`
            WHERE hour = {{hour:DateTime('UTC')}} AND type = {{m{index}_event_type:String}}
        )
        WHERE v IS NOT NULL  -- an event without a value (missing_value: skip) does not contribute
        GROUP BY {window_key}tenant_id, billing_account_id, dimensions
    """
    return sql, params


def usage_insert(catalog: Catalog, target: str, types: set[str], quarter_hours: bool = False) -> tuple[str, dict] | None:
    """INSERT of the hour's rows for every meter of the event `types` present into `target` (a
    staging copy of usage_hourly); None when no meter has events. A meter without events has no
    rows, so its SELECT (a scan of the hour) is left out. `quarter_hours`: the rows of
    usage_quarter_hourly instead (same columns plus `window_start`)."""
    selects, params = [], {}
    for index, meter in enumerate(catalog.meters):
        if meter.event_type not in types:
            continue
        sql, p = meter_select(meter, index, quarter_hours=quarter_hours)
        selects.append(sql)
        params.update(p)
    if not selects:
        return None
    columns = ("hour, window_start, " if quarter_hours else "hour, ") + (
        "tenant_id, billing_account_id, meter, event_type, aggregation, unit, dimensions, value, event_count, bytes_ingested, loaded_at"
    )
    return f"INSERT INTO `{target}` ({columns}) " + " UNION ALL ".join(selects), params
