"""The dbt marts on a real embedded engine, run through Dagster like production.

One module-scoped warehouse goes through a sequence of partition runs; the tests assert
on snapshots taken between runs. Seeds go straight into the source tables; usage_hourly
is built from them by the pipeline's own function, so the marts see real hourly rows.
"""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
import yaml

from metering_pipeline.catalog import load_catalog
from metering_pipeline.catalog.model import DEFAULT_CATALOG
from metering_pipeline.dbt.assets import build_dbt_assets
from metering_pipeline.dbt.prepare import ensure_manifest
from metering_pipeline.dbt.resources import DBT_PROJECT_DIR, dbt_env, dbt_resource
from metering_pipeline.dbt.vars import dbt_vars
from metering_pipeline.engine_lock import engine_lock
from metering_pipeline.partitions import hour_window
from metering_pipeline.resources import CatalogResource, ClickHouseResource
from metering_pipeline.usage.hour import build_usage_hour
from metering_pipeline.warehouse.tables import ensure_tables

pytestmark = pytest.mark.slow

MARTS = ("usage_daily", "usage_monthly", "usage_by_service", "quarantine_summary", "tenant_usage_summary")
ANALYTICS = "metering_analytics"
UTC = UTC

FEB = datetime(2025, 2, 20, 10)
H1, H2 = datetime(2025, 3, 10, 5), datetime(2025, 3, 10, 6)  # day 1
H3 = datetime(2025, 3, 11, 0)  # day 2
DAY1_KEY, DAY2_KEY = "2025-03-10-06:00", "2025-03-11-00:00"
LOADED_AT = datetime(2025, 3, 11, 2)

EVENT_COLUMNS = [
    "source", "id", "type", "tenant_id", "billing_account_id", "time", "hour",
    "data", "bytes", "source_file", "line_no", "loaded_at",
]  # fmt: skip
QUARANTINE_COLUMNS = [
    "hour", "landing_source", "source_file", "line_no", "reason", "detail", "raw", "raw_bytes", "loaded_at",
]  # fmt: skip


def _event(n: int, event_type: str, tenant: str, hour: datetime, data: dict, account: str = "ba-1") -> list:
    return ["edge", f"e{n}", event_type, tenant, account, hour, hour, json.dumps(data), 100 + n, "f.ndjson", n, LOADED_AT]


def _call(n, tenant, hour, user, region):
    return _event(n, "api.call", tenant, hour, {"user_id": user, "endpoint": "/v1", "geo": {"it's region": region}})


def _request(n, tenant, hour, service, sent, account="ba-1"):
    data = {"service_id": service, "bytes_sent": sent, "bytes_received": 1}
    return _event(n, "gateway.request", tenant, hour, data, account)


EVENTS = [
    _call(1, "t1", H1, "u1", "eu"),
    _call(2, "t1", H1, "u2", "us"),
    _call(3, "t1", H2, "u1", "eu"),  # u1 again, next hour: one user for the day
    _call(4, "t1", H3, "u3", "eu"),
    _request(5, "t1", H1, "s1", 10),
    _request(6, "t1", H2, "s1", 5),
    _request(7, "t1", H2, "s1", 2, account="ba-2"),
    _request(8, "t2", H2, "s2", 7),
    _request(9, "t1", H3, "s1", 1),
    _request(10, "t1", FEB, "s1", 100),
    _event(11, "gateway.connection", "t2", H2, {"service_id": "s2", "duration_seconds": "2.5"}),
]
QUARANTINE = [
    [H1, "events", "a.ndjson", 3, "invalid_json", "", "{", 1, LOADED_AT],
    [H2, "events", "a.ndjson", 4, "invalid_json", "", "{", 1, LOADED_AT],
    [H2, "events", "b.ndjson", 9, "invalid_json", "", "{{", 2, LOADED_AT],
    [H2, "events", "b.ndjson", 10, "missing_subject", "", "{}", 2, LOADED_AT],
]


@pytest.fixture(scope="module")
def catalog_path(tmp_path_factory) -> str:
    """The default catalog plus a unique_count meter grouped by a key that needs quoting."""
    document = yaml.safe_load(DEFAULT_CATALOG.read_text())
    document["meters"].append(
        {
            "name": "api_active_users_by_region",
            "event_type": "api.call",
            "aggregation": "unique_count",
            "value": "$.user_id",
            "unit": "users",
            "group_by": {"region": '$.geo["it\'s region"]'},
        }
    )
    path = tmp_path_factory.mktemp("catalog") / "catalog.yaml"
    path.write_text(yaml.safe_dump(document))
    return str(path)


@pytest.fixture(scope="module")
def dbt_assets_def():
    ensure_manifest()
    return build_dbt_assets()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory, catalog_path) -> ClickHouseResource:
    clickhouse = ClickHouseResource(url=f"chdb://{tmp_path_factory.mktemp('wh') / 'ch'}", lock_timeout_seconds=60)
    catalog = load_catalog(catalog_path)
    with clickhouse.get_client() as client:
        ensure_tables(client)
        client.insert("events", [e for e in EVENTS if e[6] != H3], column_names=EVENT_COLUMNS)
        client.insert("quarantine", QUARANTINE, column_names=QUARANTINE_COLUMNS)
        for hour in (FEB, H1, H2):
            build_usage_hour(client, catalog, hour.replace(tzinfo=UTC))
    return clickhouse


def _load_hour(clickhouse, catalog_path, hour: datetime, events: list) -> None:
    """What the pipeline does before dbt runs an hour: replace the hour's events, rebuild usage_hourly."""
    with clickhouse.get_client() as client:
        client.command("ALTER TABLE events DELETE WHERE hour = {h:DateTime('UTC')}", parameters={"h": hour},
                       settings={"mutations_sync": 2})  # fmt: skip
        if events:
            client.insert("events", events, column_names=EVENT_COLUMNS)
        build_usage_hour(client, load_catalog(catalog_path), hour.replace(tzinfo=UTC))


def _resources(clickhouse: ClickHouseResource, catalog_path: str) -> dict:
    return {"dbt": dbt_resource(clickhouse.url, clickhouse.database), "catalog": CatalogResource(path=catalog_path)}


def _materialize(assets_def, clickhouse, catalog_path, partition_key) -> dg.ExecuteInProcessResult:
    result = dg.materialize([assets_def], partition_key=partition_key, resources=_resources(clickhouse, catalog_path))
    assert result.success
    failed = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
    assert failed == []
    return result


def _query(clickhouse, sql: str) -> list[tuple]:
    with clickhouse.get_client() as client:
        return client.query(sql).result_rows


def _snapshot(clickhouse) -> dict[str, list[tuple]]:
    with clickhouse.get_client() as client:
        return {mart: client.query(f"SELECT * FROM {ANALYTICS}.{mart} ORDER BY ALL").result_rows for mart in MARTS}


def _full_refresh(clickhouse, catalog_path, partition_key: str, models: str) -> None:
    start, end = hour_window(partition_key)
    run_vars = dbt_vars(start, end, load_catalog(catalog_path))
    dbt_resource(clickhouse.url, clickhouse.database).cli(
        ["run", "--full-refresh", "--select", models, "--vars", json.dumps(run_vars)]
    ).wait()


@pytest.fixture(scope="module")
def runs(dbt_assets_def, warehouse, catalog_path) -> dict:
    """Snapshots after: day-1 hour, the same again, a day-2 hour (loaded just before, like the pipeline does),
    day-1 again after its quarantine emptied, day-2 again after u3's call was removed upstream, and a
    --full-refresh of the month and summary marts over that same data."""
    snapshots = {}
    first = _materialize(dbt_assets_def, warehouse, catalog_path, DAY1_KEY)
    snapshots["first"] = _snapshot(warehouse)
    snapshots["materialized"] = sorted(e.asset_key.to_user_string() for e in first.get_asset_materialization_events())
    snapshots["checks"] = len(first.get_asset_check_evaluations())
    _materialize(dbt_assets_def, warehouse, catalog_path, DAY1_KEY)
    snapshots["rerun"] = _snapshot(warehouse)
    _load_hour(warehouse, catalog_path, H3, [e for e in EVENTS if e[6] == H3])
    _materialize(dbt_assets_def, warehouse, catalog_path, DAY2_KEY)
    snapshots["day2"] = _snapshot(warehouse)
    with warehouse.get_client() as client:
        client.command("ALTER TABLE quarantine DELETE WHERE hour = {h:DateTime('UTC')}", parameters={"h": H2},
                       settings={"mutations_sync": 2})  # fmt: skip
    _materialize(dbt_assets_def, warehouse, catalog_path, DAY1_KEY)
    snapshots["quarantine_emptied"] = _snapshot(warehouse)
    # A rerun of H3 without t1's only api.call there (u3): no unique-meter event of t1 is left in the
    # window, so only the stored month row disagreeing with usage_daily can tell the month to recount t1.
    _load_hour(warehouse, catalog_path, H3, [e for e in EVENTS if e[6] == H3 and e[1] != "e4"])
    _materialize(dbt_assets_def, warehouse, catalog_path, DAY2_KEY)
    snapshots["u3_removed"] = _snapshot(warehouse)
    _full_refresh(warehouse, catalog_path, DAY2_KEY, "usage_monthly tenant_usage_summary")
    snapshots["full_refresh"] = _snapshot(warehouse)
    return snapshots


def _rows(snapshot, mart, **where) -> list[tuple]:
    columns = {
        "usage_daily": ["day", "tenant_id", "billing_account_id", "meter", "event_type", "aggregation", "unit",
                        "dimensions", "value", "event_count", "bytes_ingested"],
        "usage_monthly": ["month", "tenant_id", "billing_account_id", "meter", "event_type", "aggregation", "unit",
                          "dimensions", "value", "event_count", "bytes_ingested"],
    }[mart]  # fmt: skip
    rows = [dict(zip(columns, row)) for row in snapshot[mart]]
    return [r for r in rows if all(r[k] == v for k, v in where.items())]


def test_partition_run_builds_every_mart_and_runs_the_checks(runs):
    staging = ["stg_metering__events", "stg_metering__quarantine", "stg_metering__usage_hourly"]
    local = ["stg_metering__usage_quarter_hourly", "stg_metering__tenant_periods", "usage_local_daily", "usage_billing_periods"]
    provenance = ["duplicates_summary", "hourly_reconciliation", "stg_metering__duplicates", "stg_metering__landed_files"]
    assert runs["materialized"] == sorted([*MARTS, *staging, *local, *provenance])  # local marts: test_local_time.py
    assert runs["checks"] >= 30
    assert all(runs["first"][mart] for mart in MARTS)


def test_unique_users_roll_up_from_events_not_from_hours(runs, warehouse):
    day1 = datetime(2025, 3, 10).date()
    [daily] = _rows(runs["first"], "usage_daily", day=day1, meter="api_active_users")
    assert (daily["value"], daily["event_count"]) == (Decimal(2), 3)  # u1 (twice), u2
    hourly_sum = _query(warehouse, "SELECT sum(value) FROM usage_hourly WHERE meter = 'api_active_users' AND toDate(hour) = '2025-03-10'")
    assert hourly_sum == [(Decimal(3),)]  # what summing the hours would have said
    by_region = {r["dimensions"]["region"]: r["value"] for r in _rows(runs["first"], "usage_daily",
                                                                      day=day1, meter="api_active_users_by_region")}  # fmt: skip
    assert by_region == {"eu": Decimal(1), "us": Decimal(1)}
    [monthly] = _rows(runs["first"], "usage_monthly", meter="api_active_users")
    assert monthly["value"] == Decimal(2)  # u1, u2: H3 is not loaded yet
    [monthly] = _rows(runs["day2"], "usage_monthly", meter="api_active_users")
    assert monthly["value"] == Decimal(3)  # u1, u2, u3 over March


def test_additive_and_daily_window(runs):
    day1, day2 = datetime(2025, 3, 10).date(), datetime(2025, 3, 11).date()
    egress = {(r["tenant_id"], r["billing_account_id"]): r["value"]
              for r in _rows(runs["first"], "usage_daily", day=day1, meter="gateway_egress_bytes")}  # fmt: skip
    assert egress == {("t1", "ba-1"): Decimal(15), ("t1", "ba-2"): Decimal(2), ("t2", "ba-1"): Decimal(7)}
    [seconds] = _rows(runs["first"], "usage_daily", meter="gateway_connection_seconds")
    assert seconds["value"] == Decimal("2.5")
    # The day-1 run recomputed the whole of day 1 (both hours) and nothing of day 2.
    assert {r["day"] for r in _rows(runs["first"], "usage_daily")} == {day1}
    assert {r["day"] for r in _rows(runs["day2"], "usage_daily")} == {day1, day2}
    [feb] = _rows(runs["first"], "usage_monthly", month=datetime(2025, 2, 1).date()) or [None]
    assert feb is None  # February is outside the window's month


def test_usage_by_service_and_quarantine_summary(runs):
    by_service = {(row[1], row[2], row[3], row[4]): row[8] for row in runs["first"]["usage_by_service"]}
    assert by_service[("s1", "t1", "ba-1", "gateway_requests")] == Decimal(2)
    assert by_service[("s1", "t1", "ba-2", "gateway_requests")] == Decimal(1)  # accounts stay apart
    assert by_service[("s1", "t1", "ba-1", "gateway_egress_bytes")] == Decimal(15)
    assert by_service[("s2", "t2", "ba-1", "gateway_connection_seconds")] == Decimal("2.5")
    assert all(row[4] not in ("api_active_users", "api_calls") for row in runs["first"]["usage_by_service"])
    # Hourly mart: only the window's hour (H2), per landing source and reason.
    assert [(row[0], row[1], row[2], row[3], row[4], row[5]) for row in runs["first"]["quarantine_summary"]] == [
        (H2, "events", "invalid_json", 2, 3, 2),
        (H2, "events", "missing_subject", 1, 2, 1),
    ]


def test_tenant_usage_summary_periods(runs):
    # After the day-2 run: the month periods of t1 were recomputed (H3 is in its window), t2's carried over.
    rows = {(row[1], row[2]): row for row in runs["day2"]["tenant_usage_summary"]}
    as_of = datetime(2025, 3, 11, 1)
    assert {row[0] for row in rows.values()} == {as_of}
    # egress for t1: last 24h = H1 + H2 (both accounts) + H3; month to date the same; February 100.
    egress = rows[("t1", "gateway_egress_bytes")]
    assert egress[5:] == (4, Decimal(18), 427, 4, Decimal(18), 427, 1, Decimal(100), 110)
    users = rows[("t1", "api_active_users")]
    assert (users[6], users[9], users[12]) == (Decimal(3), Decimal(3), Decimal(0))


def test_every_incremental_mart_is_idempotent(runs):
    for mart in MARTS:
        assert runs["rerun"][mart] == runs["first"][mart], mart


def test_a_later_window_leaves_earlier_days_alone(runs):
    day1 = datetime(2025, 3, 10).date()
    assert _rows(runs["day2"], "usage_daily", day=day1) == _rows(runs["first"], "usage_daily", day=day1)
    # March took in H3: the t1 rows changed, t2's (nothing in H3) are the same rows.
    assert _rows(runs["day2"], "usage_monthly", tenant_id="t2") == _rows(runs["first"], "usage_monthly", tenant_id="t2")
    [egress] = _rows(runs["day2"], "usage_monthly", tenant_id="t1", billing_account_id="ba-1", meter="gateway_egress_bytes")
    assert egress["value"] == Decimal(16)  # 10 + 5 on day 1, 1 on day 2


def test_a_window_that_became_empty_is_emptied(runs):
    assert runs["quarantine_emptied"]["quarantine_summary"] == []
    for mart in ("usage_daily", "usage_monthly", "usage_by_service", "tenant_usage_summary"):
        assert runs["quarantine_emptied"][mart] == runs["day2"][mart], mart


def test_incremental_month_and_summary_equal_a_full_refresh(runs):
    [users] = _rows(runs["u3_removed"], "usage_monthly", tenant_id="t1", meter="api_active_users")
    assert (users["value"], users["event_count"]) == (Decimal(2), 3)  # recounted although t1 had no call left in H3
    for mart in ("usage_monthly", "tenant_usage_summary"):
        assert runs["u3_removed"][mart] == runs["full_refresh"][mart], mart
    assert runs["u3_removed"]["usage_monthly"] != runs["day2"]["usage_monthly"]


def test_an_hourly_run_of_usage_monthly_reads_the_days_not_the_hours(runs, warehouse, catalog_path):
    """The compiled incremental SQL: additive rows from usage_daily of the window's month, never usage_hourly;
    events only for the affected tenants of that month."""
    start, end = hour_window(DAY2_KEY)
    run_vars = dbt_vars(start, end, load_catalog(catalog_path))
    invocation = dbt_resource(warehouse.url, warehouse.database).cli(
        ["compile", "--select", "usage_monthly", "--vars", json.dumps(run_vars)]
    )
    invocation.wait()
    compiled = (invocation.target_path / "compiled/metering/models/marts/usage_monthly.sql").read_text()
    sql = " ".join(compiled.split())
    assert "usage_hourly" not in sql
    assert f"from `{ANALYTICS}`.`usage_daily`" in sql
    month_start, month_end = "toStartOfMonth(toDateTime('2025-03-11 00:00:00', 'UTC'))", "toDateTime('2025-03-11 01:00:00', 'UTC')"
    assert f"where day >= toDate(toDateTime({month_start}, 'UTC')) and day < toDate(" in sql
    assert month_end in sql
    assert f"from `{ANALYTICS}`.`usage_monthly`" in sql  # the previous month rows, carried over
    # The events are read for the window's month and the affected tenants only.
    events = sql.split("unique_meter_events as (", 1)[1].split("distinct_counts as (", 1)[0]
    assert "tenant_id in (select tenant_id from affected_tenants)" in events
    assert f"hour >= toDateTime({month_start}, 'UTC')" in events


def _dbt_test(warehouse, catalog_path, select: list[str]):
    start, end = hour_window(DAY1_KEY)
    run_vars = dbt_vars(start, end, load_catalog(catalog_path))
    invocation = dbt_resource(warehouse.url, warehouse.database).cli(
        ["test", "--select", " ".join(select), "--vars", json.dumps(run_vars)], raise_on_error=False
    )
    invocation.wait()
    results = invocation.get_artifact("run_results.json")["results"]
    return invocation.is_successful(), {r["unique_id"].split(".")[2]: (r["status"], r["failures"]) for r in results}


def test_daily_equals_hourly_test_fails_on_a_wrong_mart(runs, warehouse, catalog_path):
    """Both tests passed in every run above (asset checks); a wrong mart makes each fail for its own reason."""
    unique_test = "unique_combination_of_columns_usage_daily_day__tenant_id__billing_account_id__meter__dimensions"
    select = ["assert_usage_daily_additive_matches_hourly", unique_test]
    mart = f"{ANALYTICS}.usage_daily"
    with warehouse.get_client() as client:
        # An additive meter off by one: only the singular test looks at its value.
        client.command(
            f"ALTER TABLE {mart} UPDATE value = value + 1 WHERE meter = 'gateway_requests' AND tenant_id = 't2'",
            settings={"mutations_sync": 2},
        )
        # A duplicated unique_count row: only the unique key test sees it (the singular test skips unique_count).
        client.command(f"INSERT INTO {mart} SELECT * FROM {mart} WHERE meter = 'api_active_users' AND day = '2025-03-10'")
    try:
        successful, results = _dbt_test(warehouse, catalog_path, select)
    finally:
        with warehouse.get_client() as client:
            client.command(f"TRUNCATE TABLE {mart}")
    assert not successful
    assert results == {select[0]: ("fail", 1), select[1]: ("fail", 1)}


def test_the_adapter_holds_the_engine_lock_while_connected(tmp_path):
    from metering_pipeline.dbt.resources import ensure_adapter_importable
    from metering_pipeline.engine_lock import lock_path_for

    ensure_adapter_importable()
    from dbt.adapters.chdb.connections import ChdbClient
    from dbt.adapters.chdb.credentials import ChdbCredentials

    directory = tmp_path / "ch"
    client = ChdbClient(ChdbCredentials(path=f"chdb://{directory}", schema="metering_analytics"))
    try:
        assert json.loads(lock_path_for(directory).read_text())["purpose"] == "dbt"
        assert client.command("SELECT 1") == 1
    finally:
        client.close()
    assert lock_path_for(directory).read_text() == ""  # released at close


def test_dbt_waits_for_the_engine_lock_then_names_the_holder(warehouse):
    path = Path(warehouse.url.removeprefix("chdb://"))
    env = {**os.environ, **dbt_env(warehouse.url, warehouse.database), "METERING_LOCK_TIMEOUT_SECONDS": "1"}
    with engine_lock(path, 5, purpose="held-by-test"):
        out = subprocess.run(
            [str(Path(sys.executable).with_name("dbt")), "debug", "--connection", "--profiles-dir", str(DBT_PROJECT_DIR)],
            cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True,
        )  # fmt: skip
    assert out.returncode != 0
    assert "held-by-test" in out.stdout  # EngineBusyError names the holder


def test_docs_generate_and_a_manual_run_without_the_catalog_vars(runs, warehouse, catalog_path):
    resource = dbt_resource(warehouse.url, warehouse.database)
    missing = resource.cli(["docs", "generate"], raise_on_error=False)
    missing.wait()
    assert not missing.is_successful()
    assert "python -m metering_pipeline.dbt.vars" in str(missing.get_error())

    start, end = hour_window(DAY1_KEY)
    docs = resource.cli(["docs", "generate", "--vars", json.dumps(dbt_vars(start, end, load_catalog(catalog_path)))])
    docs.wait()
    catalog = docs.get_artifact("catalog.json")
    daily = catalog["nodes"]["model.metering.usage_daily"]
    assert daily["columns"]["value"]["type"] == "Decimal(38, 9)"
    sources = ("events", "quarantine", "usage_hourly", "usage_quarter_hourly", "tenant_periods", "duplicates", "landed_files")
    assert set(catalog["sources"]) == {f"source.metering.metering.{t}" for t in sources}
    manifest = docs.get_artifact("manifest.json")
    for mart in (*MARTS, "usage_local_daily", "usage_billing_periods"):
        node = manifest["nodes"][f"model.metering.{mart}"]
        assert node["description"] and all(c["description"] for c in node["columns"].values()), mart
