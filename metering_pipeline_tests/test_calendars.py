"""Tenant calendars in the catalog and the local periods walked from them: pure logic, no engine."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from metering_pipeline.calendars.periods import BILLING_PERIOD, DAY, periods
from metering_pipeline.catalog import CatalogError
from metering_pipeline.catalog.calendars import CalendarEntry, parse_calendars
from metering_pipeline.catalog.model import parse_catalog


def _catalog(calendars) -> dict:
    return {
        "sources": [{"name": "events", "format": "cloudevents"}],
        "meters": [{"name": "calls", "event_type": "api.call", "aggregation": "count", "unit": "1"}],
        "calendars": calendars,
    }


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Asia/Calcutta2", "../../etc/passwd", "/usr/share/zoneinfo/UTC", "", 5])
def test_unknown_zone_is_refused_naming_the_tenant(zone):
    with pytest.raises(CatalogError, match="acme'; DROP"):
        parse_catalog(_catalog({"entries": [{"tenant_id": "acme'; DROP", "timezone": zone}]}))


@pytest.mark.parametrize("anchor", [0, 29, 31, "1", True, None])
def test_anchor_day_is_a_day_1_to_28(anchor):
    with pytest.raises(CatalogError, match="anchor_day"):
        parse_calendars({"entries": [{"tenant_id": "t", "timezone": "UTC", "anchor_day": anchor}]})


def test_overlapping_intervals_and_unknown_keys_are_refused():
    overlap = [
        {"tenant_id": "t", "timezone": "UTC", "valid_to": "2026-03-15T00:00:00Z"},
        {"tenant_id": "t", "timezone": "Asia/Kolkata", "valid_from": "2026-03-14T00:00:00Z"},
    ]
    with pytest.raises(CatalogError, match="overlap for tenants: 't'"):
        parse_calendars({"entries": overlap})
    with pytest.raises(CatalogError, match="unknown keys"):
        parse_calendars({"entries": [{"tenant_id": "t", "timezone": "UTC", "zone": "UTC"}]})
    with pytest.raises(CatalogError, match="plain identifier"):
        parse_calendars({"table": "cal; DROP"})


def test_catalog_defaults_and_entries():
    catalog = parse_catalog(_catalog({"entries": [{"tenant_id": "t", "timezone": "Asia/Kathmandu", "anchor_day": 8}]}))
    assert catalog.calendars.entries == (CalendarEntry("t", "Asia/Kathmandu", 8),)
    assert parse_catalog({k: v for k, v in _catalog(None).items() if k != "calendars"}).calendars.entries == ()


def _utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_days_tile_time_in_every_zone_across_a_year():
    """Every zone of the issue: consecutive days, each from local midnight to local midnight."""
    for zone in ("UTC", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Eucla", "America/St_Johns", "America/New_York", "Pacific/Chatham"):
        found = periods("t", [CalendarEntry("t", zone)], DAY, _utc(2026, 1, 1), _utc(2027, 1, 1))
        assert all(a.end == b.start for a, b in zip(found, found[1:]))
        assert all(b.label - a.label == timedelta(days=1) for a, b in zip(found, found[1:]))
        for p in found:
            local = p.start.astimezone(ZoneInfo(zone))
            assert (local.date(), local.hour, local.minute) == (p.label, 0, 0)
        lengths = {p.end - p.start for p in found}
        expected = (
            {timedelta(hours=24)}
            if zone in ("UTC", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Eucla")
            else {timedelta(hours=h) for h in (23, 24, 25)}
        )
        assert lengths == expected, zone


def test_billing_periods_start_at_local_midnight_of_the_anchor_day():
    found = periods("t", [CalendarEntry("t", "Asia/Kathmandu", 8)], BILLING_PERIOD, _utc(2026, 3, 1), _utc(2026, 4, 1))
    assert [(p.label, p.start, p.end) for p in found] == [
        (date(2026, 2, 8), _utc(2026, 2, 7, 18, 15), _utc(2026, 3, 7, 18, 15)),
        (date(2026, 3, 8), _utc(2026, 3, 7, 18, 15), _utc(2026, 4, 7, 18, 15)),
    ]


def test_a_move_east_starts_the_new_zone_where_the_old_period_ends():
    entries = [CalendarEntry("t", "Asia/Kolkata", 1, _utc(2026, 3, 15, 12))]  # UTC before (the default)
    days = periods("t", entries, DAY, _utc(2026, 3, 15), _utc(2026, 3, 17))
    assert [(p.label, p.start, p.end, p.timezone) for p in days] == [
        (date(2026, 3, 15), _utc(2026, 3, 15), _utc(2026, 3, 16), "UTC"),  # began in UTC: ends at UTC midnight
        (date(2026, 3, 16), _utc(2026, 3, 16), _utc(2026, 3, 16, 18, 30), "Asia/Kolkata"),  # the hand-over day
        (date(2026, 3, 17), _utc(2026, 3, 16, 18, 30), _utc(2026, 3, 17, 18, 30), "Asia/Kolkata"),
    ]


def test_a_move_west_never_repeats_a_label():
    """Kolkata -> UTC: Kolkata's 15th ends at 18:30 UTC, still the UTC 15th; the day runs on to UTC midnight."""
    entries = [CalendarEntry("t", "Asia/Kolkata", valid_to=_utc(2026, 3, 15, 12))]
    days = periods("t", entries, DAY, _utc(2026, 3, 15), _utc(2026, 3, 17))
    assert [(p.label, p.start, p.end) for p in days] == [
        (date(2026, 3, 15), _utc(2026, 3, 14, 18, 30), _utc(2026, 3, 16)),
        (date(2026, 3, 16), _utc(2026, 3, 16), _utc(2026, 3, 17)),
    ]


def test_periods_do_not_depend_on_where_the_walk_starts():
    """Asking for one hour or a whole year gives the same period around that hour (a zone change included)."""
    entries = [
        CalendarEntry("t", "America/New_York", 5, valid_to=_utc(2026, 6, 10)),
        CalendarEntry("t", "Pacific/Chatham", 20, _utc(2026, 6, 10)),
    ]
    for kind in (DAY, BILLING_PERIOD):
        year = periods("t", entries, kind, _utc(2026, 1, 1), _utc(2027, 1, 1))
        assert all(a.end == b.start and a.label < b.label for a, b in zip(year, year[1:]))
        hour = _utc(2026, 1, 1)
        while hour < _utc(2027, 1, 1):
            around = periods("t", entries, kind, hour, hour + timedelta(hours=1))
            assert around and all(p in year for p in around), (kind, hour)
            assert around[0].start <= hour and around[-1].end >= hour + timedelta(hours=1)
            hour += timedelta(hours=7)
