"""`metering-pipeline usage`: what tenants used, broken down by meter, event type, hour, day or a dimension."""

from datetime import UTC, datetime, timedelta

from metering_pipeline.catalog import Catalog
from metering_pipeline.cli.query import (
    Grouping,
    unique_count_sql,
    usage_hourly_sql,
    window_params,
)
from metering_pipeline.usage.aggregation import RECOMPUTED
from metering_pipeline.warehouse.tables import EVENTS, USAGE_HOURLY


def parse_moment(text: str) -> datetime:
    """UTC: 2026-11-22, 2026-11-22T10, 2026-11-22T10:00[:00], or a partition key 2026-11-22-10:00."""
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d-%H:%M", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(text.removesuffix("Z"), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(f"not a UTC date or time: {text!r} (try 2026-11-22 or 2026-11-22T10:00)")


def default_window(now: datetime) -> tuple[datetime, datetime]:
    """The month so far: from the 1st, 00:00 UTC, up to the end of the current hour."""
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start, now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def require_tables(client, *tables: str) -> None:
    for table in tables:
        if not client.command("EXISTS TABLE {t:Identifier}", parameters={"t": table}):
            raise ValueError(f"table {table} does not exist yet: run the pipeline for some hours first")


def usage_rows(client, catalog: Catalog, grouping: Grouping, tenant: str | None, since: datetime, until: datetime) -> list[tuple]:
    """(group values..., unit, value, events) rows, sorted by the group values."""
    require_tables(client, USAGE_HOURLY, EVENTS)
    window = window_params(since, until, tenant)
    sql, params = usage_hourly_sql(grouping, tenant)
    rows = list(client.query(sql, parameters={**window, **params}).result_rows)
    for meter in catalog.meters:
        if meter.aggregation == RECOMPUTED:
            sql, params = unique_count_sql(grouping, meter, tenant)
            rows += client.query(sql, parameters={**window, **params}).result_rows
    width = len(grouping.names)
    return sorted(rows, key=lambda r: tuple(r[:width]))
