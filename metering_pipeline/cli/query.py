"""The SQL behind `metering-pipeline usage`: group-by names from an allow-list, every value bound.

Hourly rows roll up by the meter's aggregation (usage/aggregation.py), from usage_hourly in
exact decimals; a unique_count meter is recomputed from `events` over the same window, with
the catalog's JSONPath for the value and dimensions.
"""

from dataclasses import dataclass
from datetime import datetime

from metering_pipeline.catalog import Catalog, Meter
from metering_pipeline.catalog.sql import json_text
from metering_pipeline.usage.aggregation import DISTINCT_COUNT, RECOMPUTED, meter_events, rollup
from metering_pipeline.warehouse.tables import USAGE_HOURLY

FIXED = {"tenant": "tenant_id", "meter": "meter", "event_type": "event_type", "hour": "hour", "day": "toDate(hour)"}
FIXED["month"] = "toStartOfMonth(hour)"  # day and month are local (cli/local.py); these UTC readings are not used for them
ON_EVENTS = {**FIXED, "event_type": "type"}


class GroupByError(ValueError):
    """A --group-by name that is neither a fixed column nor a catalog dimension."""


@dataclass(frozen=True)
class Grouping:
    names: tuple[str, ...]  # as asked, meter always present

    def dimensions(self) -> list[str]:
        return [n for n in self.names if n not in FIXED]


def parse_group_by(values: list[str], catalog: Catalog, tenant_given: bool) -> Grouping:
    names = [n.strip() for v in values for n in v.split(",") if n.strip()] or (["meter"] if tenant_given else ["tenant", "meter"])
    known = {d for m in catalog.meters for d in m.group_by}
    for name in names:
        if name not in FIXED and name not in known:
            raise GroupByError(f"cannot group by {name!r}: use {', '.join(FIXED)} or a catalog dimension ({', '.join(sorted(known))})")
    if "meter" not in names:
        names.append("meter")  # meters have different units: never add them together
    return Grouping(tuple(dict.fromkeys(names)))


def _filters(tenant: str | None) -> str:
    tenant_filter = " AND tenant_id = {tenant:String}" if tenant else ""
    return "hour >= {since:DateTime('UTC')} AND hour < {until:DateTime('UTC')}" + tenant_filter


def table_column(name: str, position: int, params: dict) -> str:
    """A group-by name as a column of a usage table (usage_hourly, usage_quarter_hourly); a dimension's key is bound."""
    if name in FIXED:
        return FIXED[name]
    params[f"d{position}"] = name
    return f"dimensions[{{d{position}:String}}]"


def event_column(name: str, position: int, meter: Meter, params: dict) -> str:
    """A group-by name as a column of the meter's `events` rows: a dimension through the catalog's
    JSONPath (bound), and '' for a dimension the meter does not have."""
    if name == "meter":
        return "{meter:String}"
    if name in ON_EVENTS:
        return ON_EVENTS[name]
    if name in meter.group_by:
        expr, p = json_text("data", meter.dimension_keys[name], f"d{position}")
        params.update(p)
        return f"coalesce({expr}, '')"
    return "''"


def usage_hourly_sql(grouping: Grouping, tenant: str | None) -> tuple[str, dict]:
    params: dict = {}
    columns = [f"{table_column(name, i, params)} AS g{i}" for i, name in enumerate(grouping.names)]
    keys = ", ".join(f"g{i}" for i in range(len(columns)))
    sql = (
        f"SELECT {', '.join(columns)}, any(unit) AS unit, {rollup()} AS value, sum(event_count) AS events\n"
        f"FROM `{USAGE_HOURLY}`\n"
        f"WHERE {_filters(tenant)} AND aggregation != '{RECOMPUTED}'\n"
        f"GROUP BY {keys}\nORDER BY {keys}"
    )
    return sql, params


def unique_count_sql(grouping: Grouping, meter: Meter, tenant: str | None) -> tuple[str, dict]:
    params = {"meter": meter.name, "unit": meter.unit}
    columns = [f"{event_column(name, i, meter, params)} AS g{i}" for i, name in enumerate(grouping.names)]
    events, event_params = meter_events(meter, _filters(tenant), ", ".join(columns))
    params.update(event_params)
    keys = ", ".join(f"g{i}" for i in range(len(columns)))
    sql = (
        f"SELECT {keys}, {{unit:String}} AS unit, {DISTINCT_COUNT} AS value, count() AS events\n"
        f"FROM ({events})\n"
        f"GROUP BY {keys}\nORDER BY {keys}"
    )
    return sql, params


def window_params(since: datetime, until: datetime, tenant: str | None) -> dict:
    params = {"since": since.replace(tzinfo=None), "until": until.replace(tzinfo=None)}
    if tenant:
        params["tenant"] = tenant
    return params
