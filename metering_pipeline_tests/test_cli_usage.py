"""`metering-pipeline usage` on real chDB: its output equals direct SQL over the same tables."""

import csv
import io
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from metering_pipeline.cli import main
from metering_pipeline.ingest.assets import ingest
from metering_pipeline.usage.assets import usage_hourly
from metering_pipeline_tests.support.events import land, line, query
from metering_pipeline_tests.support.operate import materialize, resources

WINDOW = ["--since", "2026-11-22T10:00", "--until", "2026-11-22T12:00"]


@pytest.fixture
def usage_db(clickhouse, landing, landing_dir, monkeypatch):
    for hour in (10, 11):
        at = f"2026-11-22T{hour}:20:00Z"
        lines = [
            line(f"r{hour}-1", time=at, data={"service_id": "svc-a", "bytes_sent": 100, "bytes_received": 1}),
            line(f"r{hour}-2", time=at, data={"service_id": "svc-b", "bytes_sent": 50, "bytes_received": 2}),
            line(f"r{hour}-3", time=at, subject="globex", data={"service_id": "svc-a", "bytes_sent": 7, "bytes_received": 0}),
            line(f"c{hour}-1", time=at, type="gateway.connection", data={"service_id": "svc-a", "duration_seconds": "1.234"}),
            line(f"c{hour}-2", time=at, type="gateway.connection", data={"service_id": "svc-a", "duration_seconds": "2.5"}),
            line(f"u{hour}-1", time=at, type="api.call", data={"endpoint": "/v1/query", "user_id": "alice"}),
            line(f"u{hour}-2", time=at, type="api.call", data={"endpoint": "/v1/ingest", "user_id": f"user-{hour}"}),
        ]
        land(landing_dir, "a.ndjson", lines, hour_dir=f"events/2026/11/22/{hour}")
    materialize(resources(clickhouse, landing), ["2026-11-22-10:00", "2026-11-22-11:00"], assets=(ingest, usage_hourly))
    monkeypatch.setenv("METERING_CLICKHOUSE_URL", clickhouse.url)
    monkeypatch.setenv("METERING_DATABASE", clickhouse.database)
    return clickhouse


def run_cli(capsys, *args) -> str:
    assert main(["usage", *args]) == 0
    return capsys.readouterr().out


def test_per_meter_totals_equal_sql(usage_db, capsys):
    rows = json.loads(run_cli(capsys, "--tenant", "acme", *WINDOW, "--format", "json"))
    got = {r["meter"]: Decimal(r["value"]) for r in rows}
    expected = dict(
        query(
            usage_db, "SELECT meter, sum(value) FROM usage_hourly WHERE tenant_id = 'acme' AND aggregation != 'unique_count' GROUP BY meter"
        )
    )
    expected.update(
        query(
            usage_db,
            "SELECT 'api_active_users', toDecimal128(uniqExact(JSONExtractString(data, 'user_id')), 9) "
            "FROM events WHERE tenant_id = 'acme' AND type = 'api.call'",
        )
    )
    assert got == expected
    assert got["gateway_connection_seconds"] == Decimal("7.468")  # exact decimals, not floats
    assert got["api_active_users"] == 3  # alice, user-10, user-11: not 4, the sum of hourly uniques
    assert [r["meter"] for r in rows] == sorted(r["meter"] for r in rows)


def test_group_by_dimension_and_hour_equals_sql(usage_db, capsys):
    out = run_cli(capsys, *WINDOW, "--group-by", "service_id,hour", "--group-by", "tenant", "--format", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert list(table[0]) == ["service_id", "hour", "tenant", "meter", "unit", "value", "events"]
    got = {
        (r["service_id"], r["hour"], r["tenant"], r["meter"]): (Decimal(r["value"]), int(r["events"]))
        for r in table
        if r["meter"] != "api_active_users"
    }
    expected = query(
        usage_db,
        "SELECT dimensions['service_id'], formatDateTime(hour, '%Y-%m-%d %H:00'), tenant_id, meter, "
        "sum(value), sum(event_count) FROM usage_hourly WHERE aggregation != 'unique_count' "
        "GROUP BY ALL",
    )
    assert got == {tuple(r[:4]): (r[4], r[5]) for r in expected}
    assert {(r["service_id"], r["value"]) for r in table if r["meter"] == "api_active_users"} == {("", "2")}


def test_day_and_event_type_table(usage_db, capsys):
    out = run_cli(capsys, "--tenant", "globex", *WINDOW, "--group-by", "day,event_type")
    header, *body = out.splitlines()
    assert header.split() == ["day", "event_type", "meter", "unit", "value", "events"]
    assert body and all(row.split()[0] == "2026-11-22" and row.split()[1] == "gateway.request" for row in body)
    assert {tuple(row.split()[2:]) for row in body} >= {
        ("gateway_requests", "requests", "2", "2"),
        ("gateway_egress_bytes", "bytes", "14", "2"),
    }


def test_group_by_outside_the_allow_list_is_refused(usage_db, capsys):
    assert main(["usage", "--group-by", "tenant_id; DROP TABLE events"]) == 2
    assert "cannot group by" in capsys.readouterr().err
    assert query(usage_db, "EXISTS TABLE events") == [(1,)]


def test_console_script_runs(usage_db):
    script = Path(sys.executable).with_name("metering-pipeline")
    env = {**os.environ, "METERING_CLICKHOUSE_URL": usage_db.url, "METERING_DATABASE": usage_db.database}
    done = subprocess.run(
        [str(script), "usage", "--tenant", "acme", *WINDOW, "--format", "csv"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "gateway_requests,requests,4,4" in done.stdout
