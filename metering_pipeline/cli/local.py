"""`metering-pipeline usage` by local day and month: each tenant's own calendar, or one zone for all.

Local days do not start on UTC hours (Asia/Kolkata: 18:30 UTC the day before), so these totals
come from usage_quarter_hourly (count/sum/max/min, rolled up by the one rule in
usage/aggregation.py) and, for unique_count meters, from `events` placed by their exact time.
With `--timezone tenant` (the default) each tenant's windows go to the local day its calendar
gives them (tenant_periods, the same periods the local marts use); with an IANA zone, to that
zone's day. A month is the calendar month of the local day.

The window: with an explicit zone, --since/--until are wall-clock times in it; with the tenant's
own zone, dates mean each tenant's local dates (its local March is `--since 2026-03-01 --until
2026-04-01`), and times with an hour are UTC instants.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from metering_pipeline.catalog import Catalog, Meter
from metering_pipeline.catalog.calendars import check_zone
from metering_pipeline.catalog.errors import CatalogError
from metering_pipeline.cli.query import Grouping, event_column, table_column
from metering_pipeline.cli.usage import require_tables
from metering_pipeline.usage.aggregation import DISTINCT_COUNT, RECOMPUTED, meter_events, rollup
from metering_pipeline.warehouse.tables import EVENTS, TENANT_PERIODS, USAGE_QUARTER_HOURLY

TENANT_ZONE = "tenant"
LOCAL_GROUPS = ("day", "month")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A local day is at most 26 hours from the UTC date of the same name: rows this far either side are read.
_SLACK = timedelta(days=2)


@dataclass(frozen=True)
class LocalWindow:
    zone: str  # an IANA zone, or TENANT_ZONE
    since: datetime  # UTC bounds of the rows read
    until: datetime
    since_day: date | None = None  # tenant zones with date-only bounds: local day labels [since_day, until_day)
    until_day: date | None = None


def check_timezone(value: str | None) -> str:
    if value is None or value == TENANT_ZONE:
        return TENANT_ZONE
    try:
        return check_zone(value, "of --timezone")
    except CatalogError as exc:
        raise ValueError(str(exc).replace("calendar of tenant 'of --timezone': ", "--timezone: ")) from None


def local_window(zone: str, since_text: str | None, until_text: str | None, since: datetime, until: datetime) -> LocalWindow:
    """`since`/`until` as parsed (UTC readings of the texts, or the default window) turned into local bounds."""
    if zone != TENANT_ZONE:
        tz = ZoneInfo(zone)
        start = since.replace(tzinfo=tz).astimezone(UTC) if since_text else since
        end = until.replace(tzinfo=tz).astimezone(UTC) if until_text else until
        return LocalWindow(zone, start, end)
    if since_text and until_text and _DATE_ONLY.match(since_text) and _DATE_ONLY.match(until_text):
        return LocalWindow(zone, since - _SLACK, until + _SLACK, since.date(), until.date())
    return LocalWindow(zone, since, until)


def uses_local_time(grouping: Grouping, zone_given: bool) -> bool:
    return zone_given or any(name in LOCAL_GROUPS for name in grouping.names)


def _local_column(name: str, day: str) -> str:
    return day if name == "day" else f"toStartOfMonth({day})"


def _placed(source: str, at: str, window: LocalWindow) -> tuple[str, str, str]:
    """(FROM clause, local-day expression, extra WHERE) placing `source` rows (with tenant_id and the
    UTC instant `at`) in their local day."""
    if window.zone != TENANT_ZONE:
        return f"({source}) AS s", f"toDate(s.{at}, {{zone:String}})", "1"
    periods = (
        f"SELECT DISTINCT tenant_id, label, period_start, period_end FROM `{TENANT_PERIODS}` "
        "WHERE kind = 'day' AND hour >= toStartOfHour({since:DateTime('UTC')}) - toIntervalDay(2) "
        "AND hour < {until:DateTime('UTC')} + toIntervalDay(2)"
    )
    joined = f"({source}) AS s ASOF LEFT JOIN ({periods}) AS p ON s.tenant_id = p.tenant_id AND s.{at} >= p.period_start"
    # A tenant without period rows (hours built before calendars existed) is read in UTC.
    day = f"if(p.tenant_id = '', toDate(s.{at}), p.label)"
    where = f"(p.tenant_id = '' OR s.{at} < p.period_end)"
    if window.since_day is not None:
        where += f" AND {day} >= {{since_day:Date}} AND {day} < {{until_day:Date}}"
    return joined, day, where


def _params(window: LocalWindow, tenant: str | None) -> dict:
    params = {"since": window.since.replace(tzinfo=None), "until": window.until.replace(tzinfo=None)}
    if window.zone != TENANT_ZONE:
        params["zone"] = window.zone
    if window.since_day is not None:
        params.update(since_day=window.since_day, until_day=window.until_day)
    if tenant:
        params["tenant"] = tenant
    return params


def _outer(grouping: Grouping, inner_names: dict[int, str], day: str) -> list[str]:
    return [
        f"{_local_column(name, day)} AS g{i}" if name in LOCAL_GROUPS else f"s.{inner_names[i]} AS g{i}"
        for i, name in enumerate(grouping.names)
    ]


def windows_sql(grouping: Grouping, window: LocalWindow, tenant: str | None) -> tuple[str, dict]:
    """count/sum/max/min meters from usage_quarter_hourly, grouped with local day/month."""
    params: dict = {}
    names = {i: f"c{i}" for i, name in enumerate(grouping.names) if name not in LOCAL_GROUPS}
    inner = [f"{table_column(grouping.names[i], i, params)} AS {alias}" for i, alias in names.items()]
    tenant_filter = " AND tenant_id = {tenant:String}" if tenant else ""
    source = (
        f"SELECT tenant_id AS tenant_id, window_start, {''.join(c + ', ' for c in inner)}unit, aggregation, value, event_count "
        f"FROM `{USAGE_QUARTER_HOURLY}` WHERE hour >= toStartOfHour({{since:DateTime('UTC')}}) AND hour < {{until:DateTime('UTC')}} "
        f"AND window_start >= {{since:DateTime('UTC')}} AND window_start < {{until:DateTime('UTC')}} "
        f"AND aggregation != '{RECOMPUTED}'{tenant_filter}"
    )
    joined, day, where = _placed(source, "window_start", window)
    columns = _outer(grouping, names, day)
    keys = ", ".join(f"g{i}" for i in range(len(columns)))
    value = rollup("s.value", "any(s.aggregation)")
    sql = (
        f"SELECT {', '.join(columns)}, any(s.unit) AS unit, {value} AS total, sum(s.event_count) AS events "
        f"FROM {joined} WHERE {where} GROUP BY {keys} ORDER BY {keys}"
    )
    return sql, {**params, **_params(window, tenant)}


def distinct_sql(grouping: Grouping, meter: Meter, window: LocalWindow, tenant: str | None) -> tuple[str, dict]:
    """A unique_count meter recounted from events over each local day/month (never summed)."""
    params = {"meter": meter.name, "unit": meter.unit}
    names = {i: f"c{i}" for i, name in enumerate(grouping.names) if name not in LOCAL_GROUPS}
    inner = [f"{event_column(grouping.names[i], i, meter, params)} AS {alias}" for i, alias in names.items()]
    tenant_filter = " AND tenant_id = {tenant:String}" if tenant else ""
    where = (
        "hour >= toStartOfHour({since:DateTime('UTC')}) AND hour < {until:DateTime('UTC')} "
        "AND time >= {since:DateTime('UTC')} AND time < {until:DateTime('UTC')}" + tenant_filter
    )
    events, event_params = meter_events(meter, where, ", ".join(["tenant_id", "toDateTime(time, 'UTC') AS at", *inner]))
    params.update(event_params)
    joined, day, extra = _placed(events, "at", window)
    columns = _outer(grouping, names, day)
    keys = ", ".join(f"g{i}" for i in range(len(columns)))
    sql = (
        f"SELECT {', '.join(columns)}, {{unit:String}} AS unit, {DISTINCT_COUNT} AS total, count() AS events "
        f"FROM {joined} WHERE {extra} GROUP BY {keys} ORDER BY {keys}"
    )
    return sql, {**params, **_params(window, tenant)}


def local_usage_rows(client, catalog: Catalog, grouping: Grouping, tenant: str | None, window: LocalWindow) -> list[tuple]:
    """(group values..., unit, value, events) rows, sorted by the group values."""
    require_tables(client, USAGE_QUARTER_HOURLY, TENANT_PERIODS, EVENTS)
    sql, params = windows_sql(grouping, window, tenant)
    rows = list(client.query(sql, parameters=params).result_rows)
    for meter in catalog.meters:
        if meter.aggregation == RECOMPUTED:
            sql, params = distinct_sql(grouping, meter, window, tenant)
            rows += client.query(sql, parameters=params).result_rows
    width = len(grouping.names)
    return sorted(rows, key=lambda r: tuple(r[:width]))
