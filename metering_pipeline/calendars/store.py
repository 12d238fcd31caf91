"""tenant_periods: the local days and billing periods overlapping each UTC hour, per tenant.

Built in the usage step for every hour it builds, from the catalog's calendars (and the
calendars table of large setups), and swapped in per hour like usage_hourly. The local marts
read only the period rows of the hours their run covers, so they always see the calendar as it
was when those hours were last built: a calendar change takes effect for the hours rebuilt after
it (rerun a month to restate it), and never mixes two calendars in one run.
"""

from datetime import UTC, datetime, timedelta

from metering_pipeline.calendars.periods import KINDS, periods
from metering_pipeline.catalog import Catalog, CatalogError
from metering_pipeline.catalog.calendars import CalendarEntry, calendar_entry, checked_entries
from metering_pipeline.warehouse.staging import staging, swap_partition
from metering_pipeline.warehouse.tables import TENANT_PERIODS, USAGE_HOURLY, create_table, ensure_tables

CALENDAR_COLUMNS = """
    tenant_id String,
    timezone String,
    anchor_day UInt8 DEFAULT 1,
    valid_from DateTime64(6, 'UTC') DEFAULT toDateTime64(0, 6, 'UTC'),
    valid_to Nullable(DateTime64(6, 'UTC'))
"""


def calendar_entries(client, catalog: Catalog) -> tuple[CalendarEntry, ...]:
    """The catalog's entries plus the calendars table's rows, each checked like a catalog entry
    (unknown zone or bad anchor: CatalogError naming the tenant), and every zone checked against
    the ClickHouse server's own time zone database."""
    entries = list(catalog.calendars.entries)
    table = catalog.calendars.table
    if table:
        create_table(client, table, CALENDAR_COLUMNS, "MergeTree ORDER BY (tenant_id, valid_from)")
        rows = client.query(f"SELECT tenant_id, timezone, anchor_day, valid_from, valid_to FROM `{table}`").result_rows
        for index, (tenant, zone, anchor, start, end) in enumerate(rows):
            raw = {"tenant_id": tenant, "timezone": zone, "anchor_day": int(anchor), "valid_from": start, "valid_to": end}
            entries.append(calendar_entry(raw, f"{table} row {index}"))
    entries = checked_entries(entries)
    check_zones_known(client, entries)
    return entries


def check_zones_known(client, entries) -> None:
    """Refuse a zone ClickHouse does not know (an older server's tzdata), naming its tenants."""
    for zone in sorted({e.timezone for e in entries}):
        try:
            client.query("SELECT toString(toTimeZone(toDateTime(0, 'UTC'), {zone:String}))", parameters={"zone": zone})
        except Exception as exc:  # the server's own error, re-raised naming the tenants
            tenants = sorted({e.tenant_id for e in entries if e.timezone == zone})
            raise CatalogError(f"time zone {zone!r} of tenants {tenants} is unknown to ClickHouse: {exc}") from exc


def period_rows(tenants, entries, hour: datetime) -> list[tuple]:
    """tenant_periods rows of one hour: every day and billing period of each tenant overlapping it."""
    end = hour + timedelta(hours=1)
    rows = []
    for tenant in sorted(tenants):
        for kind in KINDS:
            for p in periods(tenant, entries, kind, hour, end):
                start, stop = (moment.astimezone(UTC).replace(tzinfo=None) for moment in (p.start, p.end))
                rows.append((hour.replace(tzinfo=None), tenant, kind, p.label, start, stop, p.timezone, p.anchor_day))
    return rows


def build_period_hours(client, catalog: Catalog, hours: list[datetime]) -> int:
    """Rebuild tenant_periods for `hours` (UTC, aware) and return the rows written. Each hour gets the
    periods of the tenants with a calendar, the tenants with usage in the hour, and the tenants its
    previous rows had (so a rerun that empties a tenant's hour still rebuilds that tenant's periods
    around it). Only the hour's own data decides, so building hours one by one or in one backfill
    gives the same rows."""
    ensure_tables(client, TENANT_PERIODS, USAGE_HOURLY)
    if not hours:
        return 0
    entries = calendar_entries(client, catalog)
    naive = [hour.replace(tzinfo=None) for hour in hours]
    seen = client.query(
        f"SELECT DISTINCT hour, tenant_id FROM `{USAGE_HOURLY}` WHERE hour IN {{hours:Array(DateTime('UTC'))}} "
        f"UNION DISTINCT SELECT DISTINCT hour, tenant_id FROM `{TENANT_PERIODS}` WHERE hour IN {{hours:Array(DateTime('UTC'))}}",
        parameters={"hours": naive},
    ).result_rows
    calendared = {e.tenant_id for e in entries}
    by_hour: dict[datetime, set[str]] = {}
    for hour, tenant in seen:
        by_hour.setdefault(hour.replace(tzinfo=None), set()).add(tenant)
    written = 0
    for hour in hours:
        rows = period_rows(calendared | by_hour.get(hour.replace(tzinfo=None), set()), entries, hour)
        with staging(client) as area:
            staged = area.like(TENANT_PERIODS)
            if rows:
                client.insert(
                    staged,
                    rows,
                    column_names=["hour", "tenant_id", "kind", "label", "period_start", "period_end", "timezone", "anchor_day"],
                )
            swap_partition(client, TENANT_PERIODS, staged, hour)
        written += len(rows)
    return written
