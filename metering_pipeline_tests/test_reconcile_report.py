"""`metering-pipeline reconcile`: per hour and landing source, every figure counted from the tables, and
every line read tied to an outcome; a table that loses a row shows up as unaccounted lines."""

import json

import dagster as dg
import pytest

from metering_pipeline.cli import main
from metering_pipeline.resources import CatalogResource
from metering_pipeline_tests.support.events import land, line, query
from metering_pipeline_tests.support.provenance import run_all

H10, H11 = "events/2026/11/22/10", "events/2026/11/22/11"


@pytest.fixture
def two_hours(clickhouse, landing, landing_dir, tmp_path, monkeypatch):
    bad_value = line("neg", data={"service_id": "svc", "bytes_sent": -1, "bytes_received": 1})
    land(landing_dir, "a.ndjson", [line("e1"), line("e2"), "", line("e1"), "not json", bad_value], hour_dir=H10)
    land(landing_dir, "b.ndjson.gz", [line("e3"), line("e2", subject="other"), line("e4")], hour_dir=H10)
    land(landing_dir, "a.ndjson", [line("x1", time="2026-11-22T11:10:00Z")], hour_dir=H11)
    for key in ("2026-11-22-10:00", "2026-11-22-11:00"):
        run_all(clickhouse, landing, tmp_path, key=key)
    monkeypatch.setenv("METERING_CLICKHOUSE_URL", clickhouse.url)
    monkeypatch.setenv("METERING_DATABASE", clickhouse.database)
    return clickhouse, landing_dir


def report(capsys, *extra) -> tuple[int, list[dict]]:
    code = main(["reconcile", "--since", "2026-11-22T10:00", "--until", "2026-11-22T12:00", "--format", "json", *extra])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_every_line_read_has_an_outcome_per_hour_and_source(two_hours, capsys):
    clickhouse, landing_dir = two_hours
    code, rows = report(capsys)
    assert code == 0
    ten, eleven = rows
    sizes = sum(p.stat().st_size for p in (landing_dir / H10).iterdir())
    assert ten == {
        "hour": "2026-11-22 10:00",
        "landing_source": "events",
        "files": "2",
        "bytes": str(sizes),
        "lines_read": "8",  # the blank line is not a line
        "accepted": "4",
        "duplicates": "2",
        "duplicates_identical": "1",
        "duplicates_conflicting": "1",
        "quarantined": "2",
        "quarantined_by_reason": {"invalid_value": 1, "malformed_json": 1},
        "events": "4",
        "exported_records": ten["exported_records"],
        "revisions": "1",
        "unaccounted": "0",
    }
    [(records,)] = query(clickhouse, "SELECT uniqExact(record_id) FROM export_ledger WHERE hour = '2026-11-22 10:00:00'")
    assert ten["exported_records"] == str(records) and records > 0
    assert (eleven["lines_read"], eleven["accepted"], eleven["duplicates"], eleven["unaccounted"]) == ("1", "1", "0", "0")


@pytest.mark.slow
def test_a_lost_row_shows_as_unaccounted_and_fails_the_command(two_hours, capsys):
    clickhouse, _ = two_hours
    with clickhouse.get_client() as client:
        client.command("ALTER TABLE duplicates DELETE WHERE id = 'e1' SETTINGS mutations_sync = 1")
    code, rows = report(capsys)
    assert code == 1 and rows[0]["unaccounted"] == "1" and rows[1]["unaccounted"] == "0"
    assert main(["reconcile", "--since", "2026-11-22T10:00", "--until", "2026-11-22T12:00"]) == 1
    assert "NOT RECONCILED" in capsys.readouterr().out


@pytest.mark.slow
def test_the_dbt_marts_agree_with_the_command_and_their_tie_out_test_catches_a_lost_row(two_hours, capsys):
    """hourly_reconciliation equals `metering-pipeline reconcile` row for row; duplicates_summary counts
    the dropped copies; assert_hourly_reconciliation_ties_out passes, and fails once a row is lost."""
    from metering_pipeline.dbt.assets import build_dbt_assets
    from metering_pipeline.dbt.prepare import ensure_manifest
    from metering_pipeline.dbt.resources import dbt_resource

    clickhouse, _ = two_hours
    ensure_manifest()
    resources = {"dbt": dbt_resource(clickhouse.url, clickhouse.database), "catalog": CatalogResource()}

    def build(key: str, raise_on_error: bool = True):
        return dg.materialize([build_dbt_assets()], partition_key=key, resources=resources, raise_on_error=raise_on_error)

    for key in ("2026-11-22-10:00", "2026-11-22-11:00"):
        checks = {c.check_name: c.passed for c in build(key).get_asset_check_evaluations()}
        assert checks["assert_hourly_reconciliation_ties_out"] is True
    capsys.readouterr()  # dbt's own output
    _, rows = report(capsys)
    mart = query(
        clickhouse,
        "SELECT formatDateTime(hour, '%Y-%m-%d %H:00'), toString(landing_source), files, bytes, lines_read, accepted, duplicates, "
        "duplicates_identical, duplicates_conflicting, quarantined, quarantined_by_reason, events, exported_records, revisions, "
        "unaccounted FROM metering_analytics.hourly_reconciliation ORDER BY hour, landing_source",
    )
    assert [tuple(row.values()) for row in rows] == [tuple(v if isinstance(v, dict) else str(v) for v in row) for row in mart]
    assert query(
        clickhouse,
        "SELECT tenant_id, dropped_copies, identical_copies, conflicting_copies, lines, conflicting_ids "
        "FROM metering_analytics.duplicates_summary ORDER BY tenant_id",
    ) == [("acme", 1, 1, 0, 1, 0), ("other", 1, 0, 1, 1, 1)]

    with clickhouse.get_client() as client:
        client.command("ALTER TABLE duplicates DELETE WHERE id = 'e1' SETTINGS mutations_sync = 1")
    failed = build("2026-11-22-10:00", raise_on_error=False)
    checks = {c.check_name: c.passed for c in failed.get_asset_check_evaluations()}
    assert checks["assert_hourly_reconciliation_ties_out"] is False
