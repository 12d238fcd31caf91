"""Reruns replace exactly their hour: identical results, late files picked up, failures change nothing."""

from decimal import Decimal

import pytest

from metering_pipeline.ingest import hour as ingest_hour_module
from metering_pipeline_tests.support.events import land, line, query, run_hour, usage

SNAPSHOT = {
    "events": "SELECT * EXCEPT loaded_at FROM events ORDER BY source, id",
    "quarantine": "SELECT * EXCEPT loaded_at FROM quarantine ORDER BY source_file, line_no",
    "usage_hourly": "SELECT * EXCEPT loaded_at FROM usage_hourly ORDER BY tenant_id, meter, toString(dimensions)",
}


def snapshot(clickhouse) -> dict:
    return {table: query(clickhouse, sql) for table, sql in SNAPSHOT.items()}


def test_rerun_is_identical(clickhouse, landing, landing_dir, catalog_resource):
    land(landing_dir, "a.ndjson", [line(f"e{i}", subject=f"t{i % 3}") for i in range(20)] + ["garbage"])
    run_hour(clickhouse, landing, catalog_resource)
    first = snapshot(clickhouse)
    run_hour(clickhouse, landing, catalog_resource)
    assert snapshot(clickhouse) == first
    assert len(first["events"]) == 20 and len(first["quarantine"]) == 1


def test_rerun_touches_only_its_hour(clickhouse, landing, landing_dir, catalog_resource):
    land(landing_dir, "a.ndjson", [line("h10")])
    land(landing_dir, "a.ndjson", [line("h11", time="2026-11-22T11:05:00Z")], hour_dir="events/2026/11/22/11")
    run_hour(clickhouse, landing, catalog_resource)
    run_hour(clickhouse, landing, catalog_resource, key="2026-11-22-11:00")
    run_hour(clickhouse, landing, catalog_resource)
    assert query(clickhouse, "SELECT id, toString(hour) FROM events ORDER BY id") == [
        ("h10", "2026-11-22 10:00:00"),
        ("h11", "2026-11-22 11:00:00"),
    ]


def test_late_file_is_picked_up_on_rerun(clickhouse, landing, landing_dir, catalog_resource):
    land(landing_dir, "a.ndjson", [line("e1"), line("e2")])
    run_hour(clickhouse, landing, catalog_resource)
    land(landing_dir, "late.ndjson", [line("e2"), line("e3")])  # e2 again: still counted once
    run_hour(clickhouse, landing, catalog_resource)
    assert usage(clickhouse, "gateway_requests") == {("acme", (("service_id", "svc"),)): Decimal(3)}


def test_failure_before_swap_keeps_previous_hour(clickhouse, landing, landing_dir, catalog_resource, monkeypatch):
    land(landing_dir, "a.ndjson", [line("e1")])
    run_hour(clickhouse, landing, catalog_resource)
    before = snapshot(clickhouse)
    land(landing_dir, "b.ndjson", [line("e2")])

    def explode(*args, **kwargs):
        raise RuntimeError("injected failure after staging, before the swap")

    monkeypatch.setattr(ingest_hour_module, "swap_partition", explode)
    with pytest.raises(Exception, match="injected failure"):
        run_hour(clickhouse, landing, catalog_resource)
    assert snapshot(clickhouse) == before
    assert query(clickhouse, "SELECT count() FROM system.tables WHERE database = 'metering' AND name LIKE '\\_stage\\_%'") == [(0,)]


def test_stale_staging_from_a_killed_run_is_dropped(clickhouse):
    from metering_pipeline.warehouse.staging import drop_stale_staging

    with clickhouse.get_client() as client:
        client.command("CREATE TABLE _stage_deadbeef_lines (x UInt8) ENGINE = MergeTree ORDER BY x")
        assert drop_stale_staging(client) == 0  # fresh: could belong to a running step
        assert drop_stale_staging(client, older_than_hours=0) == 1
        assert client.command("SELECT count() FROM system.tables WHERE name = '_stage_deadbeef_lines'") == 0
