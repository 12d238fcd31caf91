"""Usage alerts on real chDB through real runs: each threshold fires once, in the hour that crossed it."""

from datetime import datetime
from decimal import Decimal

from metering_pipeline.alerts import usage_alerts
from metering_pipeline_tests.support.events import land, line, query
from metering_pipeline_tests.support.operate import materialize, resources, write_quotas
from metering_pipeline_tests.support.webhook_receiver import WebhookReceiver

KEYS = ["2026-11-22-10:00", "2026-11-22-11:00", "2026-11-22-12:00"]


def land_requests(landing_dir, hour: int, count: int, name: str = "a.ndjson", tenant: str = "acme") -> None:
    lines = [line(f"{tenant}-{hour}-{i}", subject=tenant, time=f"2026-11-22T{hour}:30:00Z") for i in range(count)]
    land(landing_dir, name, lines, hour_dir=f"events/2026/11/22/{hour}")


def alerts(clickhouse) -> list[tuple]:
    return query(
        clickhouse, "SELECT threshold, usage, percent, toString(crossed_hour), delivery_status FROM usage_alerts FINAL ORDER BY threshold"
    )


def test_thresholds_fire_once_across_hours_and_within_one_hour_and_never_again(clickhouse, landing, landing_dir, tmp_path):
    quotas = write_quotas(tmp_path / "q.yaml", [{"tenant": "acme", "meter": "gateway_requests", "quota": 10}])
    for hour, count in ((10, 5), (11, 3), (12, 2)):
        land_requests(landing_dir, hour, count)
    with WebhookReceiver() as hook:
        res = resources(clickhouse, landing, quotas, hook.url)
        materialize(res, KEYS[:1])
        assert alerts(clickhouse) == [(50, Decimal(5), Decimal(50), "2026-11-22 10:00:00", "delivered")]
        materialize(res, KEYS[1:2])
        materialize(res, KEYS[2:])
        assert alerts(clickhouse) == [
            (50, Decimal(5), Decimal(50), "2026-11-22 10:00:00", "delivered"),
            (80, Decimal(8), Decimal(80), "2026-11-22 11:00:00", "delivered"),
            (95, Decimal(10), Decimal(100), "2026-11-22 12:00:00", "delivered"),
            (100, Decimal(10), Decimal(100), "2026-11-22 12:00:00", "delivered"),
        ]
        assert len(hook.texts()) == 4
        assert "tenant acme reached 80.00% of its gateway_requests quota" in hook.texts()[1]

        materialize(res, KEYS[2:])  # a rerun
        materialize(res, KEYS)  # a backfill of the whole range in one run
        assert len(alerts(clickhouse)) == 4 and len(hook.texts()) == 4

        land_requests(landing_dir, 12, 1)  # a correction: hour 12 now has 1 request, not 2
        materialize(res, KEYS[2:])
        materialize(res, KEYS[2:])
        assert len(hook.texts()) == 4
    assert [row[4] for row in alerts(clickhouse)] == ["delivered"] * 4  # still fired
    assert query(
        clickhouse, "SELECT threshold, usage, percent, toString(hour), toString(crossed_hour) FROM usage_alert_drops ORDER BY threshold"
    ) == [
        (95, Decimal(9), Decimal(90), "2026-11-22 12:00:00", "2026-11-22 12:00:00"),
        (100, Decimal(9), Decimal(90), "2026-11-22 12:00:00", "2026-11-22 12:00:00"),
    ]


def test_one_backfill_run_finds_the_hour_that_crossed_each_threshold(clickhouse, landing, landing_dir, tmp_path):
    quotas = write_quotas(tmp_path / "q.yaml", [{"tenant": "acme", "meter": "gateway_requests", "quota": 8, "thresholds": [25, 50, 100]}])
    for hour, count in ((10, 1), (11, 3), (12, 4)):
        land_requests(landing_dir, hour, count)
    land_requests(landing_dir, 11, 9, name="other.ndjson", tenant="globex")  # no quota: never alerts
    materialize(resources(clickhouse, landing, quotas), KEYS)
    assert alerts(clickhouse) == [
        (25, Decimal(4), Decimal(50), "2026-11-22 11:00:00", "stored"),
        (50, Decimal(4), Decimal(50), "2026-11-22 11:00:00", "stored"),
        (100, Decimal(8), Decimal(100), "2026-11-22 12:00:00", "stored"),
    ]
    assert query(clickhouse, "SELECT DISTINCT toString(evaluated_hour) FROM usage_alerts ORDER BY 1") == [
        ("2026-11-22 11:00:00",),
        ("2026-11-22 12:00:00",),
    ]

    # A quota added later in the month fires at once, naming the hour that crossed it, not the hour evaluated.
    write_quotas(tmp_path / "q.yaml", [{"tenant": "globex", "meter": "gateway_requests", "quota": 9, "thresholds": [100]}])
    materialize(resources(clickhouse, landing, quotas), KEYS[2:], assets=(usage_alerts,))
    assert query(
        clickhouse, "SELECT toString(crossed_hour), toString(evaluated_hour) FROM usage_alerts FINAL WHERE tenant_id = 'globex'"
    ) == [("2026-11-22 11:00:00", "2026-11-22 12:00:00")]


def test_unique_count_quota_counts_each_user_once_per_month(clickhouse, landing, landing_dir, tmp_path):
    quotas = write_quotas(tmp_path / "q.yaml", [{"tenant": "initech", "meter": "api_active_users", "quota": 2, "thresholds": [100]}])
    for hour, users in ((10, ["u1"]), (11, ["u1"]), (12, ["u1", "u2"])):
        lines = [
            line(
                f"c-{hour}-{u}",
                type="api.call",
                subject="initech",
                time=f"2026-11-22T{hour}:10:00Z",
                data={"endpoint": "/v1/query", "user_id": u},
            )
            for u in users
        ]
        land(landing_dir, "calls.ndjson", lines, hour_dir=f"events/2026/11/22/{hour}")
    res = resources(clickhouse, landing, quotas)
    materialize(res, KEYS[:2])
    # Summing hourly uniques would say 2 users (100%) already; the month has seen one.
    assert alerts(clickhouse) == []
    materialize(res, KEYS[2:])
    assert alerts(clickhouse) == [(100, Decimal(2), Decimal(100), "2026-11-22 12:00:00", "stored")]


def test_month_boundaries_split_periods(clickhouse, landing, landing_dir, tmp_path):
    quotas = write_quotas(tmp_path / "q.yaml", [{"tenant": "acme", "meter": "gateway_requests", "quota": 2, "thresholds": [100]}])
    for moment, folder in (("2026-11-30T23:10:00Z", "events/2026/11/30/23"), ("2026-12-01T00:10:00Z", "events/2026/12/01/00")):
        land(landing_dir, "a.ndjson", [line(f"{moment}-{i}", time=moment) for i in range(2)], hour_dir=folder)
    materialize(resources(clickhouse, landing, quotas), ["2026-11-30-23:00", "2026-12-01-00:00"])
    assert query(clickhouse, "SELECT toString(period), usage FROM usage_alerts FINAL ORDER BY period") == [
        ("2026-11-01", Decimal(2)),
        ("2026-12-01", Decimal(2)),
    ]


def test_crossing_logic_is_pure_and_ordered():
    from metering_pipeline.alerts.evaluate import evaluate_hour
    from metering_pipeline.alerts.quotas import Quota

    quota = Quota("t", "m", Decimal(10))
    series = [(datetime(2026, 11, 1, 1), Decimal(4)), (datetime(2026, 11, 1, 2), Decimal(9)), (datetime(2026, 11, 1, 3), Decimal(12))]
    crossings, drops = evaluate_hour(quota, series, datetime(2026, 11, 1, 2), {})
    assert [(c.threshold, c.crossed_hour.hour) for c in crossings] == [(50, 2), (80, 2)]
    crossings, drops = evaluate_hour(quota, series, datetime(2026, 11, 1, 3), {50: datetime(2026, 11, 1, 2)})
    assert [(c.threshold, c.crossed_hour.hour) for c in crossings] == [(80, 2), (95, 3), (100, 3)] and not drops
    assert evaluate_hour(quota, series, datetime(2026, 11, 1, 1), {100: datetime(2026, 11, 1, 3)}) == ([], [])


def test_quotas_table_overrides_the_file_and_a_month_overrides_every_month(clickhouse, landing, landing_dir, tmp_path):
    quotas = write_quotas(tmp_path / "q.yaml", [{"tenant": "acme", "meter": "gateway_requests", "quota": 1000}])
    land_requests(landing_dir, 10, 3)
    res = resources(clickhouse, landing, quotas)
    materialize(res, KEYS[:1])
    assert alerts(clickhouse) == []
    with clickhouse.get_client() as client:
        client.insert(
            "usage_quotas",
            [["acme", "gateway_requests", "", Decimal(100), [50]], ["acme", "gateway_requests", "2026-11", Decimal(4), [75]]],
            column_names=["tenant_id", "meter", "period", "quota", "thresholds"],
        )
    materialize(res, KEYS[:1])
    assert alerts(clickhouse) == [(75, Decimal(3), Decimal(75), "2026-11-22 10:00:00", "stored")]


def test_quota_file_errors_name_the_entry(tmp_path):
    import pytest

    from metering_pipeline.alerts.quotas import EXAMPLE_QUOTAS, QuotaError, check_quotas, effective, load_quota_file
    from metering_pipeline.catalog import load_catalog

    unknown = load_quota_file(write_quotas(tmp_path / "a.yaml", [{"tenant": "t", "meter": "nope", "quota": 1}]))
    with pytest.raises(QuotaError, match="unknown meter 'nope'"):
        check_quotas(unknown, load_catalog(), "a.yaml")
    # At run time (a usage_quotas row can change under a deployment) the quota is left out and named.
    assert effective(unknown, datetime(2026, 11, 1).date(), load_catalog()) == ([], ["quota for 't' names unknown meter 'nope'"])
    with pytest.raises(QuotaError, match="thresholds"):
        load_quota_file(write_quotas(tmp_path / "b.yaml", [{"tenant": "t", "meter": "api_calls", "quota": 1, "thresholds": [0]}]))
    assert load_quota_file(None) == [] and load_quota_file("") == []  # no file configured: no quotas
    example, _ = effective(load_quota_file(EXAMPLE_QUOTAS), datetime(2026, 11, 1).date(), load_catalog())
    assert len(example) == 3  # the shipped example stays valid against the shipped catalog


def test_no_quota_file_means_no_quotas_whatever_the_catalog(clickhouse, landing, landing_dir, tmp_path):
    """The shipped example is never loaded by itself: a catalog without its meters still runs green,
    and one with them gets no quota nobody configured."""
    land_requests(landing_dir, 10, 6_000)  # 60 % of the example quota for acme
    result = materialize(resources(clickhouse, landing), KEYS[:1])
    assert alerts(clickhouse) == []
    meta = {
        k: v.value
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "usage_alerts"
        for k, v in e.materialization.metadata.items()
    }
    assert (meta["quotas"], meta["quotas_ignored"]) == (0, 0)


def test_table_quota_on_an_unknown_meter_is_left_out_not_a_crash(clickhouse, landing, landing_dir, tmp_path):
    quotas = write_quotas(tmp_path / "q.yaml", [{"tenant": "acme", "meter": "gateway_requests", "quota": 4, "thresholds": [100]}])
    land_requests(landing_dir, 10, 5)
    res = resources(clickhouse, landing, quotas)
    materialize(res, KEYS[:1])
    with clickhouse.get_client() as client:
        client.insert(
            "usage_quotas",
            [["acme", "renamed_meter", "", Decimal(1), [100]]],
            column_names=["tenant_id", "meter", "period", "quota", "thresholds"],
        )
    result = materialize(res, KEYS[:1], assets=(usage_alerts,))
    meta = {k: v.value for e in result.get_asset_materialization_events() for k, v in e.materialization.metadata.items()}
    assert (meta["quotas"], meta["quotas_ignored"]) == (1, 1)
    assert [a[0] for a in alerts(clickhouse)] == [100]  # the valid quota still fired


def test_definitions_refuse_a_quota_file_naming_an_unknown_meter(tmp_path):
    import os
    import subprocess
    import sys

    quotas = write_quotas(tmp_path / "q.yaml", [{"tenant": "acme", "meter": "gateway_request", "quota": 1}])
    env = {**os.environ, "METERING_QUOTAS": quotas}
    done = subprocess.run(
        [sys.executable, "-c", "import metering_pipeline.definitions"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode != 0
    assert "METERING_QUOTAS=" in done.stderr and "unknown meter 'gateway_request'" in done.stderr
    write_quotas(tmp_path / "q.yaml", [{"tenant": "acme", "meter": "gateway_requests", "quota": 1}])
    assert (
        subprocess.run(
            [sys.executable, "-c", "import metering_pipeline.definitions"], env=env, capture_output=True, text=True, timeout=300
        ).returncode
        == 0
    )
