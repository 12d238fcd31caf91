"""Tenant calendars in the catalog: the time zone and billing-period anchor day each tenant is billed in.

A tenant's invoice totals are local: its days start at local midnight (23 or 25 hours long on
DST days; a +5:45 day starts at 18:15 UTC the day before) and its billing periods start on the
anchor day of the month at local midnight. Tenants without an entry bill in UTC from the 1st.
Entries carry half-open validity intervals [valid_from, valid_to) like attribution, so a
tenant that moves from UTC to Asia/Kolkata on a date keeps the zone in force at each period's
start (calendars/periods.py walks the periods). Small setups list entries here; large ones
name a ClickHouse table with the same columns (read by calendars/store.py, checked the same way).
"""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from metering_pipeline.catalog.attribution import BEGINNING, _moment
from metering_pipeline.catalog.errors import CatalogError
from metering_pipeline.warehouse.tables import IDENTIFIER

DEFAULT_TIMEZONE = "UTC"
DEFAULT_ANCHOR_DAY = 1
# 29-31 do not exist in every month; an anchor that moved with the month length would make
# periods of different lengths for the same customer, so the anchor is 1-28.
ANCHOR_DAYS = range(1, 29)


@dataclass(frozen=True)
class CalendarEntry:
    tenant_id: str
    timezone: str = DEFAULT_TIMEZONE
    anchor_day: int = DEFAULT_ANCHOR_DAY
    valid_from: datetime = BEGINNING
    valid_to: datetime | None = None  # None: still valid

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Calendars:
    entries: tuple[CalendarEntry, ...] = ()
    table: str | None = None  # a ClickHouse table read when periods are built, for large setups


def check_zone(name, tenant_id: str) -> str:
    """The IANA zone `name`, or a CatalogError naming the tenant (unknown, misspelt or not a zone name)."""
    if not isinstance(name, str) or not name or name.startswith(("/", ".")) or ".." in name:
        raise CatalogError(f"calendar of tenant {tenant_id!r}: not an IANA time zone name: {name!r}")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CatalogError(f"calendar of tenant {tenant_id!r}: unknown time zone {name!r} (IANA names, e.g. Asia/Kolkata)") from None
    return name


def check_anchor(value, tenant_id: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in ANCHOR_DAYS:
        raise CatalogError(f"calendar of tenant {tenant_id!r}: anchor_day must be a day 1-28, got {value!r}")
    return value


def calendar_entry(raw: dict, where: str) -> CalendarEntry:
    """One entry from YAML or a table row: tenant_id, timezone, anchor_day, valid_from, valid_to."""
    if not isinstance(raw, dict) or not isinstance(raw.get("tenant_id"), str) or not raw["tenant_id"]:
        raise CatalogError(f"{where}: needs a non-empty tenant_id: {raw!r}")
    unknown = set(raw) - {"tenant_id", "timezone", "anchor_day", "valid_from", "valid_to"}
    if unknown:
        raise CatalogError(f"{where} (tenant {raw['tenant_id']!r}): unknown keys {sorted(unknown)}")
    tenant = raw["tenant_id"]
    zone = check_zone(raw.get("timezone", DEFAULT_TIMEZONE), tenant)
    anchor = check_anchor(raw.get("anchor_day", DEFAULT_ANCHOR_DAY), tenant)
    start = _moment(raw["valid_from"], where) if raw.get("valid_from") is not None else BEGINNING
    end = _moment(raw["valid_to"], where) if raw.get("valid_to") is not None else None
    if end is not None and end <= start:
        raise CatalogError(f"{where} (tenant {tenant!r}): valid_to must be after valid_from")
    return CalendarEntry(tenant, zone, anchor, start, end)


def overlapping_tenants(entries) -> list[str]:
    """Tenants with overlapping validity intervals: which zone bills a period would be ambiguous."""
    found, last_end = set(), {}
    for entry in sorted(entries, key=lambda e: (e.tenant_id, e.valid_from)):
        if entry.tenant_id in last_end and (last_end[entry.tenant_id] is None or last_end[entry.tenant_id] > entry.valid_from):
            found.add(entry.tenant_id)
        last_end[entry.tenant_id] = entry.valid_to
    return sorted(found)


def checked_entries(entries) -> tuple[CalendarEntry, ...]:
    entries = tuple(entries)
    if clashing := overlapping_tenants(entries):
        raise CatalogError(f"calendar intervals overlap for tenants: {', '.join(repr(t) for t in clashing)}")
    return entries


def parse_calendars(raw) -> Calendars:
    if raw is None:
        return Calendars()
    if not isinstance(raw, dict) or set(raw) - {"entries", "table"}:
        raise CatalogError("calendars must be a mapping with 'entries' and/or 'table'")
    table = raw.get("table")
    if table is not None and (not isinstance(table, str) or not IDENTIFIER.fullmatch(table)):
        raise CatalogError(f"calendars table must be a plain identifier: {table!r}")
    entries = checked_entries(calendar_entry(item, f"calendar entry {i}") for i, item in enumerate(raw.get("entries") or []))
    return Calendars(entries, table)
