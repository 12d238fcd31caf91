"""The late-file sensor against a real instance, real runs and real landing folders."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import dagster as dg

from metering_pipeline.export.assets import billing_export
from metering_pipeline.ingest.assets import ingest
from metering_pipeline.resources.export_store import ExportStore
from metering_pipeline.sensors import build_late_file_sensor
from metering_pipeline.sensors.changes import hour_digest, recorded_fingerprints
from metering_pipeline.usage.assets import usage_hourly
from metering_pipeline_tests.support.events import land, line, query
from metering_pipeline_tests.support.operate import (
    definitions,
    materialize,
    resources,
    tick,
)

K10, K11 = "2026-11-22-10:00", "2026-11-22-11:00"
NOW = datetime(2026, 11, 22, 14, 5, tzinfo=UTC)
GRAPH = (ingest, usage_hourly, billing_export)


def land_two_hours(landing_dir) -> None:
    land(landing_dir, "a.ndjson", [line("e1"), line("e2")])
    land(landing_dir, "a.ndjson", [line("f1", time="2026-11-22T11:30:00Z")], hour_dir="events/2026/11/22/11")


def test_sensor_fingerprint_is_the_one_ingest_records(clickhouse, landing, landing_dir):
    from metering_pipeline.partitions import hour_start
    from metering_pipeline.resources import CatalogResource
    from metering_pipeline.samples import write_sample_hour

    write_sample_hour(landing_dir, hour_start(K10), events=20)  # a plain and a gzip file
    with dg.instance_for_test() as instance:
        materialize(resources(clickhouse, landing), [K10], instance, assets=(ingest,))
        recorded = recorded_fingerprints(instance, [K10, K11])
    assert set(recorded) == {K10}
    assert recorded[K10].digest == hour_digest(landing, CatalogResource().load(), K10)


def test_late_file_reruns_exactly_that_hour_once_and_the_export_emits_a_correction(clickhouse, landing, landing_dir, tmp_path):
    land_two_hours(landing_dir)
    res = {**resources(clickhouse, landing), "export_store": ExportStore(url=str(tmp_path / "export"))}
    defs = definitions(res, assets=GRAPH)
    job = defs.resolve_job_def("hourly_metering")
    sensor = build_late_file_sensor(clock=lambda: NOW)
    with dg.instance_for_test() as instance:
        materialize(res, [K10, K11], instance, assets=GRAPH)  # one backfill-style run over both hours
        first = tick(sensor, instance, res, assets=GRAPH)
        assert not first.run_requests

        land(landing_dir, "late.ndjson", [line("e2"), line("e3"), line("e4")])  # e2 is a duplicate
        second = tick(sensor, instance, res, first.cursor, assets=GRAPH)
        [request] = second.run_requests
        assert request.partition_key == K10 and request.job_name in (None, "hourly_metering")
        # The same change on a later tick, or after a daemon restart (no cursor), has the same run key,
        # which Dagster launches at most once.
        assert [r.run_key for r in tick(sensor, instance, res, second.cursor, assets=GRAPH).run_requests] == [request.run_key]
        assert [r.run_key for r in tick(build_late_file_sensor(clock=lambda: NOW), instance, res, assets=GRAPH).run_requests] == [
            request.run_key
        ]

        assert job.execute_in_process(instance=instance, partition_key=request.partition_key, tags=request.tags).success
        assert not tick(sensor, instance, res, second.cursor, assets=GRAPH).run_requests

    ledger = query(
        clickhouse,
        "SELECT revision, quantity, event_count FROM export_ledger FINAL "
        "WHERE meter = 'gateway_requests' AND hour = '2026-11-22 10:00:00' ORDER BY revision",
    )
    assert ledger == [(0, Decimal(2), 2), (1, Decimal(2), 2)]  # the correction carries exactly the two new events
    assert query(clickhouse, "SELECT max(revision) FROM export_ledger FINAL WHERE hour = '2026-11-22 11:00:00'") == [(0,)]


def test_hours_never_materialized_are_left_to_the_schedule(clickhouse, landing, landing_dir):
    land_two_hours(landing_dir)
    res = resources(clickhouse, landing)
    with dg.instance_for_test() as instance:
        materialize(res, [K11], instance, assets=(ingest,))
        result = tick(build_late_file_sensor(clock=lambda: NOW), instance, res)
    assert not result.run_requests  # hour 10 has files but no run yet: the schedule's job, not a late file


def test_a_removed_or_rewritten_file_is_a_change_too(clickhouse, landing, landing_dir):
    land_two_hours(landing_dir)
    res = resources(clickhouse, landing)
    sensor = build_late_file_sensor(clock=lambda: NOW)
    with dg.instance_for_test() as instance:
        materialize(res, [K10, K11], instance, assets=(ingest,))
        (landing_dir / "events/2026/11/22/11/a.ndjson").unlink()
        assert [r.partition_key for r in tick(sensor, instance, res).run_requests] == [K11]


def test_lookback_bounds_the_reruns(clickhouse, landing, landing_dir):
    land_two_hours(landing_dir)
    res = resources(clickhouse, landing)
    with dg.instance_for_test() as instance:
        materialize(res, [K10, K11], instance, assets=(ingest,))
        land(landing_dir, "late.ndjson", [line("e9")])
        land(landing_dir, "late.ndjson", [line("f9", time="2026-11-22T11:40:00Z")], hour_dir="events/2026/11/22/11")
        sensor = build_late_file_sensor(lookback=timedelta(hours=3), clock=lambda: NOW)  # 13:00, 12:00, 11:00
        assert [r.partition_key for r in tick(sensor, instance, res).run_requests] == [K11]
