"""Billing in each tenant's time zone, end to end on real chDB and real dbt.

The expectation is computed here, independently of the pipeline's SQL and of its period walk:
each event's local date comes from Python's zoneinfo (`event_time.astimezone(zone).date()`),
and its quantity is summed with Decimal. Events sit one minute before, on, and one minute after
every local midnight and DST instant of each zone around both DST changes of 2026.
"""

import json
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
import yaml

from metering_pipeline.alerts.quotas import Quota
from metering_pipeline.alerts.run import evaluate_hours
from metering_pipeline.calendars.store import build_period_hours, check_zones_known
from metering_pipeline.catalog import CatalogError, load_catalog
from metering_pipeline.catalog.calendars import CalendarEntry
from metering_pipeline.cli import main
from metering_pipeline.dbt.assets import build_dbt_assets
from metering_pipeline.dbt.prepare import ensure_manifest
from metering_pipeline.dbt.resources import dbt_resource
from metering_pipeline.dbt.vars import dbt_vars
from metering_pipeline.resources import CatalogResource, ClickHouseResource
from metering_pipeline.usage.assets import usage_hourly
from metering_pipeline.usage.hour import build_usage_hour
from metering_pipeline.usage.integrity import window_mismatches
from metering_pipeline.warehouse.tables import ensure_tables

pytestmark = pytest.mark.slow

ANALYTICS = "metering_analytics"
LOADED_AT = datetime(2026, 12, 1)
EVENT_COLUMNS = [
    "source", "id", "type", "tenant_id", "billing_account_id", "time", "hour",
    "data", "bytes", "source_file", "line_no", "loaded_at",
]  # fmt: skip

# tenant -> (zone, anchor day); each tenant id is hostile on purpose (quotes, unicode, a path).
TENANTS = {
    "utc-'co": ("UTC", 1),
    "kolkata/../ü": ("Asia/Kolkata", 1),
    "kathmandu": ("Asia/Kathmandu", 8),  # a billing period starts at 18:15 UTC on the 7th
    "eucla": ("Australia/Eucla", 1),
    "st-johns": ("America/St_Johns", 1),
    "new-york": ("America/New_York", 1),
    "chatham": ("Pacific/Chatham", 1),
}
MOVER = "mover"  # UTC until 2026-03-15 00:00 UTC, then Asia/Kolkata
MOVED_AT = datetime(2026, 3, 15, tzinfo=UTC)
NEIGHBOUR = "neighbour"  # no calendar entry: UTC, from the 1st

# DST instants (UTC) of 2026; the test checks each one really changes its zone's offset.
DST_CHANGES = {
    "America/New_York": [datetime(2026, 3, 8, 7, tzinfo=UTC), datetime(2026, 11, 1, 6, tzinfo=UTC)],
    "America/St_Johns": [datetime(2026, 3, 8, 5, 30, tzinfo=UTC), datetime(2026, 11, 1, 4, 30, tzinfo=UTC)],
    "Pacific/Chatham": [datetime(2026, 4, 4, 14, tzinfo=UTC), datetime(2026, 9, 26, 14, tzinfo=UTC)],
}
LOCAL_DAYS = [date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9), date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2)]


def local_midnight(day: date, zone: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _instants(zone: str, anchor: int) -> list[datetime]:
    """Every local midnight of LOCAL_DAYS (and the zone's DST days), the anchor day's, and each DST instant."""
    days = set(LOCAL_DAYS) | {date(2026, 3, anchor), date(2026, 4, 1)}
    for change in DST_CHANGES.get(zone, []):
        local = change.astimezone(ZoneInfo(zone)).date()
        days |= {local, local + timedelta(days=1)}
    return sorted({local_midnight(d, zone) for d in days} | set(DST_CHANGES.get(zone, [])))


def _events() -> list[dict]:
    """(tenant, time, value, user) around every boundary: 1 minute before, on it, 1 minute after."""
    found, n = [], 0
    for tenant, (zone, anchor) in TENANTS.items():
        for instant in _instants(zone, anchor):
            for offset in (-60, 0, 60):
                n += 1
                found.append({"tenant": tenant, "time": instant + timedelta(seconds=offset), "n": n})
    # unique users across a Kolkata local day spanning two UTC days: u-day at 20:00 UTC on the 20th
    # (01:30 local on the 21st) and 10:00 UTC on the 21st: one user on the local 21st.
    for moment in (datetime(2026, 3, 20, 20, tzinfo=UTC), datetime(2026, 3, 21, 10, tzinfo=UTC), datetime(2026, 3, 20, 17, tzinfo=UTC)):
        n += 1
        found.append({"tenant": "kolkata/../ü", "time": moment, "n": n, "user": "u-day"})
    for moment in MOVER_TIMES:
        n += 1
        found.append({"tenant": MOVER, "time": moment, "n": n})
    n += 1
    found.append({"tenant": NEIGHBOUR, "time": datetime(2026, 3, 8, 23, 59, tzinfo=UTC), "n": n})
    for event in found:
        event["value"] = Decimal(f"{event['n']}.{event['n']:09d}")  # every event's value is distinct
        event.setdefault("user", f"u{event['n'] % 3}")
    return found


MOVER_TIMES = [
    datetime(2026, 3, 14, 23, tzinfo=UTC),  # UTC day 14, UTC March
    datetime(2026, 3, 15, 10, tzinfo=UTC),  # Kolkata day 15 (a day that began at 00:00 UTC, when the zone changed)
    datetime(2026, 3, 15, 19, tzinfo=UTC),  # Kolkata day 16
    datetime(2026, 3, 31, 20, tzinfo=UTC),  # Kolkata 1 April 01:30, yet the March period (it began in UTC) runs to 1 April 00:00 UTC
    datetime(2026, 4, 1, 1, tzinfo=UTC),  # the first Kolkata period: 1 April 00:00 UTC to 1 May 00:00 Kolkata
]


def _row(event: dict, meter_type: str = "api.call") -> list:
    moment = event["time"]
    hour = moment.replace(minute=0, second=0, microsecond=0)
    data = {"bytes": str(event["value"]), "user": event["user"], "level": str(event["value"])}
    return ["edge", f"e{event['n']}", meter_type, event["tenant"], "ba", moment.replace(tzinfo=None),
            hour.replace(tzinfo=None), json.dumps(data), 100, "f.ndjson", event["n"], LOADED_AT]  # fmt: skip


def _catalog_document() -> dict:
    entries = [{"tenant_id": t, "timezone": zone, "anchor_day": anchor} for t, (zone, anchor) in TENANTS.items()]
    entries += [
        {"tenant_id": MOVER, "timezone": "UTC", "valid_to": MOVED_AT.isoformat()},
        {"tenant_id": MOVER, "timezone": "Asia/Kolkata", "valid_from": MOVED_AT.isoformat()},
    ]
    meter = {"event_type": "api.call", "unit": "1"}
    return {
        "sources": [{"name": "events", "format": "cloudevents"}],
        "meters": [
            {"name": "calls", "aggregation": "count", **meter},
            {"name": "bytes", "aggregation": "sum", "value": "$.bytes", **meter},
            {"name": "peak", "aggregation": "max", "value": "$.level", **meter},
            {"name": "low", "aggregation": "min", "value": "$.level", **meter},
            {"name": "users", "aggregation": "unique_count", "value": "$.user", **meter},
        ],
        "calendars": {"entries": entries},
    }


def _expected(events, label_of) -> dict:
    """{(tenant, label): {meter: value}} from the events, in Python: sum, count, max, min, distinct."""
    groups = defaultdict(list)
    for event in events:
        groups[(event["tenant"], label_of(event))].append(event)
    return {
        key: {
            "calls": Decimal(len(group)),
            "bytes": sum(e["value"] for e in group),
            "peak": max(e["value"] for e in group),
            "low": min(e["value"] for e in group),
            "users": Decimal(len({e["user"] for e in group})),
        }
        for key, group in groups.items()
    }


def _zone_of(tenant: str) -> str:
    return TENANTS.get(tenant, ("UTC", 1))[0]


def _local_day(event) -> date:
    return event["time"].astimezone(ZoneInfo(_zone_of(event["tenant"]))).date()


def _billing_label(event) -> date:
    local = _local_day(event)
    anchor = TENANTS.get(event["tenant"], ("UTC", 1))[1]
    if local.day >= anchor:
        return local.replace(day=anchor)
    previous = (local.replace(day=1) - timedelta(days=1)).replace(day=anchor)
    return previous


def _mart(clickhouse, mart: str, label: str) -> dict:
    with clickhouse.get_client() as client:
        rows = client.query(f"SELECT tenant_id, {label}, meter, value FROM {ANALYTICS}.{mart}").result_rows
    found = defaultdict(dict)
    for tenant, period, meter, value in rows:
        assert meter not in found[(tenant, period)], f"two {meter} rows for {tenant} {period}"
        found[(tenant, period)][meter] = value
    return dict(found)


def _resources(clickhouse, catalog_path) -> dict:
    return {
        "dbt": dbt_resource(clickhouse.url, clickhouse.database),
        "catalog": CatalogResource(path=catalog_path),
        "clickhouse": clickhouse,
    }


def _dbt_build(clickhouse, catalog_path, start: datetime, end: datetime) -> None:
    """One `dbt build` over [start, end), as a backfill's single run does (through the dbt CLI resource:
    a Dagster range run over eight months would record a materialization per hour and model)."""
    run_vars = dbt_vars(start, end, load_catalog(catalog_path))
    invocation = dbt_resource(clickhouse.url, clickhouse.database).cli(["build", "--vars", json.dumps(run_vars)], raise_on_error=False)
    invocation.wait()
    assert invocation.is_successful()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    ensure_manifest()
    root = tmp_path_factory.mktemp("local")
    catalog_path = root / "catalog.yaml"
    catalog_path.write_text(yaml.safe_dump(_catalog_document()))
    catalog = load_catalog(catalog_path)
    clickhouse = ClickHouseResource(url=f"chdb://{root / 'ch'}", lock_timeout_seconds=120)
    events = _events()
    hours = sorted({e["time"].replace(minute=0, second=0, microsecond=0) for e in events})
    with clickhouse.get_client() as client:
        ensure_tables(client)
        client.insert("events", [_row(e) for e in events], column_names=EVENT_COLUMNS)
        started = time.monotonic()
        for hour in hours:
            build_usage_hour(client, catalog, hour)
            assert window_mismatches(client, hour) == []
        print(f"{len(hours)} hours built in {time.monotonic() - started:.1f} s")
        started = time.monotonic()
        build_period_hours(client, catalog, hours)
        print(f"periods built in {time.monotonic() - started:.1f} s")
    _dbt_build(clickhouse, str(catalog_path), hours[0], hours[-1] + timedelta(hours=1))
    return {"clickhouse": clickhouse, "catalog_path": str(catalog_path), "events": events, "hours": hours}


def test_dst_instants_are_real():
    for zone, changes in DST_CHANGES.items():
        for change in changes:
            before = (change - timedelta(seconds=1)).astimezone(ZoneInfo(zone)).utcoffset()
            after = change.astimezone(ZoneInfo(zone)).utcoffset()
            assert before != after, (zone, change)


def test_local_days_match_zoneinfo(world):
    events = [e for e in world["events"] if e["tenant"] != MOVER]
    expected = _expected(events, _local_day)
    got = {k: v for k, v in _mart(world["clickhouse"], "usage_local_daily", "day").items() if k[0] != MOVER}
    assert got == expected
    # what the pipeline used to offer (UTC days) disagrees for every zone but UTC: the test can tell them apart
    utc_days = _expected(events, lambda e: e["time"].date())
    assert {k for k in utc_days if k[0] == "kathmandu"} != {k for k in expected if k[0] == "kathmandu"}


def test_billing_periods_match_zoneinfo(world):
    events = [e for e in world["events"] if e["tenant"] != MOVER]
    assert {k: v for k, v in _mart(world["clickhouse"], "usage_billing_periods", "period").items() if k[0] != MOVER} == _expected(
        events, _billing_label
    )


def test_day_lengths_and_starts(world):
    with world["clickhouse"].get_client() as client:
        rows = client.query(
            f"SELECT DISTINCT tenant_id, day, period_start, period_end, timezone FROM {ANALYTICS}.usage_local_daily"
        ).result_rows
    days = {(t, d): (s.replace(tzinfo=UTC), e.replace(tzinfo=UTC), z) for t, d, s, e, z in rows}
    assert days[("kathmandu", date(2026, 3, 8))][0] == datetime(2026, 3, 7, 18, 15, tzinfo=UTC)
    assert days[("eucla", date(2026, 3, 8))][0] == datetime(2026, 3, 7, 15, 15, tzinfo=UTC)
    start, end, zone = days[("new-york", date(2026, 3, 8))]
    assert (end - start, zone) == (timedelta(hours=23), "America/New_York")
    start, end, _ = days[("new-york", date(2026, 11, 1))]
    assert end - start == timedelta(hours=25)
    start, end, _ = days[("chatham", date(2026, 4, 5))]
    assert (start, end - start) == (datetime(2026, 4, 4, 10, 15, tzinfo=UTC), timedelta(hours=25))
    start, end, _ = days[("st-johns", date(2026, 3, 8))]
    assert (start, end - start) == (datetime(2026, 3, 8, 3, 30, tzinfo=UTC), timedelta(hours=23))


def test_unique_users_over_a_local_day_spanning_two_utc_days(world):
    daily = _mart(world["clickhouse"], "usage_local_daily", "day")
    # local 21st: u-day at 01:30 and 15:30 -> one user; local 20th (22:30): u-day once more -> one user there too
    assert daily[("kolkata/../ü", date(2026, 3, 21))]["users"] == Decimal(1)
    assert daily[("kolkata/../ü", date(2026, 3, 20))]["users"] == Decimal(1)
    assert daily[("kolkata/../ü", date(2026, 3, 21))]["calls"] == Decimal(2)
    with world["clickhouse"].get_client() as client:
        [(summed,)] = client.query(
            "SELECT sum(value) FROM usage_quarter_hourly WHERE tenant_id = {t:String} AND meter = 'users' "
            "AND window_start >= '2026-03-20 18:30:00' AND window_start < '2026-03-21 18:30:00'",
            parameters={"t": "kolkata/../ü"},
        ).result_rows
    assert summed == Decimal(2)  # what summing the windows (or the two UTC days) would have billed


def test_zone_change_mid_month_bills_each_period_in_the_zone_at_its_start(world):
    values = {t: e["value"] for e in world["events"] if e["tenant"] == MOVER for t in [e["time"]]}
    daily = _mart(world["clickhouse"], "usage_local_daily", "day")
    mover_days = {d: v["bytes"] for (t, d), v in daily.items() if t == MOVER}
    assert mover_days == {
        date(2026, 3, 14): values[MOVER_TIMES[0]],
        date(2026, 3, 15): values[MOVER_TIMES[1]],
        date(2026, 3, 16): values[MOVER_TIMES[2]],
        date(2026, 4, 1): values[MOVER_TIMES[3]] + values[MOVER_TIMES[4]],
    }
    periods = _mart(world["clickhouse"], "usage_billing_periods", "period")
    assert {d: v["bytes"] for (t, d), v in periods.items() if t == MOVER} == {
        date(2026, 3, 1): sum(values[t] for t in MOVER_TIMES[:4]),
        date(2026, 4, 1): values[MOVER_TIMES[4]],
    }
    with world["clickhouse"].get_client() as client:
        rows = client.query(
            f"SELECT DISTINCT period, timezone, period_start, period_end FROM {ANALYTICS}.usage_billing_periods "
            "WHERE tenant_id = {t:String} ORDER BY period",
            parameters={"t": MOVER},
        ).result_rows
    assert [(p, z, s.replace(tzinfo=UTC), e.replace(tzinfo=UTC)) for p, z, s, e in rows] == [
        (date(2026, 3, 1), "UTC", datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
        (date(2026, 4, 1), "Asia/Kolkata", datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 4, 30, 18, 30, tzinfo=UTC)),
    ]


def test_rerun_of_one_hour_rebuilds_the_local_days_around_it(world):
    """A late event in Kathmandu's 18:00 UTC hour: the quarter before 18:15 is the local 7 March,
    the rest the 8th. One partition run (usage + dbt, as the late-file sensor launches it) must
    change both local days and the billing periods around them, and nothing else."""
    clickhouse, catalog_path = world["clickhouse"], world["catalog_path"]
    before_days = _mart(clickhouse, "usage_local_daily", "day")
    before_periods = _mart(clickhouse, "usage_billing_periods", "period")
    late = [
        {"tenant": "kathmandu", "time": datetime(2026, 3, 7, 18, 5, tzinfo=UTC), "n": 9001, "value": Decimal("0.5"), "user": "late"},
        {"tenant": "kathmandu", "time": datetime(2026, 3, 7, 18, 50, tzinfo=UTC), "n": 9002, "value": Decimal("0.25"), "user": "late"},
    ]
    with clickhouse.get_client() as client:
        client.insert("events", [_row(e) for e in late], column_names=EVENT_COLUMNS)
    assets = [usage_hourly, build_dbt_assets()]
    result = dg.materialize(assets, partition_key="2026-03-07-18:00", resources=_resources(clickhouse, catalog_path))
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["quarter_hours_match_hour"] and checks["event_counts_match"] and all(checks.values())
    after_days = _mart(clickhouse, "usage_local_daily", "day")
    expected_days = _expected(world["events"] + late, _local_day)
    changed = {k for k in after_days if after_days[k] != before_days.get(k)}
    assert changed == {("kathmandu", date(2026, 3, 7)), ("kathmandu", date(2026, 3, 8))}
    for key in changed:
        assert after_days[key] == expected_days[key]
    after_periods = _mart(clickhouse, "usage_billing_periods", "period")
    changed = {k for k in after_periods if after_periods[k] != before_periods.get(k)}
    # anchor 8: 18:05 UTC on the 7th is the period of 8 February, 18:50 the one of 8 March
    assert changed == {("kathmandu", date(2026, 2, 8)), ("kathmandu", date(2026, 3, 8))}
    expected_periods = _expected(world["events"] + late, _billing_label)
    for key in changed:
        assert after_periods[key] == expected_periods[key]
    world["events"] = world["events"] + late  # later tests see the late events too


def test_quarter_hours_add_up_to_hours_and_the_check_catches_a_drift(world):
    hour = datetime(2026, 3, 7, 18, tzinfo=UTC)
    with world["clickhouse"].get_client() as client:
        rows = client.query(
            "SELECT window_start, meter, value, event_count FROM usage_quarter_hourly "
            "WHERE hour = {h:DateTime('UTC')} AND tenant_id = 'kathmandu' ORDER BY window_start, meter",
            parameters={"h": hour.replace(tzinfo=None)},
        ).result_rows
        assert {0, 15} <= {r[0].minute for r in rows}  # 18:14 and 18:15/18:16 (Kathmandu's local midnight is 18:15)
        assert window_mismatches(client, hour) == []
        client.command(
            "ALTER TABLE usage_quarter_hourly UPDATE value = value + toDecimal128('0.000000001', 9) "
            "WHERE hour = {h:DateTime('UTC')} AND meter = 'bytes' AND tenant_id = 'kathmandu' AND toMinute(window_start) = 0",
            parameters={"h": hour.replace(tzinfo=None)},
            settings={"mutations_sync": 2},
        )
        drift = window_mismatches(client, hour)
        build_usage_hour(client, load_catalog(world["catalog_path"]), hour)  # put the hour back
        assert window_mismatches(client, hour) == []
    assert [(m, t) for m, t, *_ in drift] == [("bytes", "kathmandu")]


def _cli(world, monkeypatch, capsys, *args) -> list[dict]:
    monkeypatch.setenv("METERING_CLICKHOUSE_URL", world["clickhouse"].url)
    monkeypatch.setenv("METERING_DATABASE", world["clickhouse"].database)
    monkeypatch.setenv("METERING_CATALOG", world["catalog_path"])
    assert main(["usage", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def _by_label(rows, label: str, meter: str) -> dict:
    return {(r["tenant"], date.fromisoformat(r[label])): Decimal(r["value"]) for r in rows if r["meter"] == meter}


@pytest.mark.parametrize("meter", ["bytes", "peak", "users"])
def test_cli_groups_by_each_tenants_local_day(world, monkeypatch, capsys, meter):
    """Default --timezone: each tenant's own; date-only --since/--until are each tenant's local dates."""
    rows = _cli(world, monkeypatch, capsys, "--since", "2026-03-07", "--until", "2026-03-10", "--group-by", "tenant,day")
    expected = {
        key: values[meter]
        for key, values in _expected(world["events"], _local_day).items()
        if date(2026, 3, 7) <= key[1] < date(2026, 3, 10)
    }
    assert _by_label(rows, "day", meter) == expected


def test_cli_with_an_explicit_zone(world, monkeypatch, capsys):
    """One zone for everyone: Kathmandu's events by Kolkata days, --since/--until wall-clock in Kolkata."""
    rows = _cli(world, monkeypatch, capsys, "--tenant", "kathmandu", "--timezone", "Asia/Kolkata",
                "--since", "2026-03-07", "--until", "2026-03-10", "--group-by", "day")  # fmt: skip
    kolkata = ZoneInfo("Asia/Kolkata")
    mine = [e for e in world["events"] if e["tenant"] == "kathmandu"]
    expected = {
        key: v["bytes"]
        for key, v in _expected(mine, lambda e: e["time"].astimezone(kolkata).date()).items()
        if date(2026, 3, 7) <= key[1] < date(2026, 3, 10)
    }
    assert {("kathmandu", date.fromisoformat(r["day"])): Decimal(r["value"]) for r in rows if r["meter"] == "bytes"} == expected
    utc = _cli(world, monkeypatch, capsys, "--tenant", "kathmandu", "--timezone", "UTC",
               "--since", "2026-03-07", "--until", "2026-03-10", "--group-by", "day")  # fmt: skip
    expected_utc = {
        key: v["bytes"] for key, v in _expected(mine, lambda e: e["time"].date()).items() if date(2026, 3, 7) <= key[1] < date(2026, 3, 10)
    }
    assert {("kathmandu", date.fromisoformat(r["day"])): Decimal(r["value"]) for r in utc if r["meter"] == "bytes"} == expected_utc


def test_cli_month_of_a_tenant_that_moved(world, monkeypatch, capsys):
    rows = _cli(world, monkeypatch, capsys, "--tenant", MOVER, "--since", "2026-03-01", "--until", "2026-05-01", "--group-by", "month")
    values = {e["time"]: e["value"] for e in world["events"] if e["tenant"] == MOVER}
    got = {r["month"]: Decimal(r["value"]) for r in rows if r["meter"] == "bytes"}
    # 31 March 20:00 UTC is 1 April in Kolkata, the zone in force: its local day and month are April's
    assert got == {
        "2026-03-01": sum(values[t] for t in MOVER_TIMES[:3]),
        "2026-04-01": values[MOVER_TIMES[3]] + values[MOVER_TIMES[4]],
    }


def test_cli_refuses_an_unknown_zone(world, monkeypatch, capsys):
    monkeypatch.setenv("METERING_CLICKHOUSE_URL", world["clickhouse"].url)
    assert main(["usage", "--timezone", "Mars/Base", "--group-by", "day"]) == 2
    assert "Mars/Base" in capsys.readouterr().err


def test_quota_periods_follow_the_tenants_billing_period(world):
    """Kolkata's March starts at 18:30 UTC on 28 February: the 18:00 UTC hour belongs to two quota
    periods, and each counts only its own part (a UTC month would put all three calls in February)."""
    tenant, hour = "kolkata/../ü", datetime(2026, 2, 28, 18)
    kolkata = ZoneInfo("Asia/Kolkata")
    through = hour.replace(tzinfo=UTC) + timedelta(hours=1)
    calls = defaultdict(int)
    for e in world["events"]:
        if e["tenant"] == tenant and e["time"] < through:
            calls[e["time"].astimezone(kolkata).date().replace(day=1)] += 1
    assert dict(calls) == {date(2026, 2, 1): 1, date(2026, 3, 1): 2}
    quota = Quota(tenant, "calls", Decimal(2))
    with world["clickhouse"].get_client() as client:
        report = evaluate_hours(client, load_catalog(world["catalog_path"]), [quota], [hour], "stored")
        rows = client.query(
            "SELECT period, threshold, usage FROM usage_alerts FINAL WHERE tenant_id = {t:String}", parameters={"t": tenant}
        )
    assert sorted((c.threshold, c.usage) for c in report.fired) == [(50, 1), (50, 2), (80, 2), (95, 2), (100, 2)]
    assert sorted(rows.result_rows) == [
        (date(2026, 2, 1), 50, Decimal(1)),
        *[(date(2026, 3, 1), t, Decimal(2)) for t in (50, 80, 95, 100)],
    ]


def test_rerun_that_empties_a_tenants_hour_removes_its_local_day(world):
    """The neighbour's only event (23:59 UTC on 8 March) is withdrawn and its hour rerun: its day and
    billing period disappear from the local marts; the other tenant of that hour keeps its numbers."""
    clickhouse, catalog_path = world["clickhouse"], world["catalog_path"]
    [gone] = [e for e in world["events"] if e["tenant"] == NEIGHBOUR]
    with clickhouse.get_client() as client:
        client.command(
            "ALTER TABLE events DELETE WHERE id = {id:String}", parameters={"id": f"e{gone['n']}"}, settings={"mutations_sync": 2}
        )
    before = _mart(clickhouse, "usage_local_daily", "day")
    assert (NEIGHBOUR, date(2026, 3, 8)) in before
    assets = [usage_hourly, build_dbt_assets()]
    assert dg.materialize(assets, partition_key="2026-03-08-23:00", resources=_resources(clickhouse, catalog_path)).success
    world["events"] = [e for e in world["events"] if e is not gone]
    after = _mart(clickhouse, "usage_local_daily", "day")
    assert (NEIGHBOUR, date(2026, 3, 8)) not in after
    assert after == {k: v for k, v in before.items() if k != (NEIGHBOUR, date(2026, 3, 8))}
    assert NEIGHBOUR not in {t for t, _ in _mart(clickhouse, "usage_billing_periods", "period")}


def test_clickhouse_must_know_each_zone(world):
    """A zone the server's time zone database lacks (here one no database has) is refused naming its tenants."""
    with world["clickhouse"].get_client() as client:
        check_zones_known(client, [CalendarEntry("acme", "Asia/Kolkata")])
        with pytest.raises(CatalogError, match=r"'Mars/Base' of tenants \['acme'\]"):
            check_zones_known(client, [CalendarEntry("acme", "Mars/Base")])
