"""The documented CLI materializes one hour end to end through the real code location."""

import pytest

from metering_pipeline.partitions import hour_start
from metering_pipeline.resources import ClickHouseResource
from metering_pipeline.samples import write_sample_hour
from metering_pipeline_tests.support.cli import materialize_hour, step_processes

KEY = "2026-11-22-10:00"


@pytest.mark.slow
def test_dagster_asset_materialize_one_partition(tmp_path):
    landing = tmp_path / "landing"
    write_sample_hour(landing, hour_start(KEY), events=50)
    env = materialize_hour(tmp_path, landing, KEY, timeout=600)
    with ClickHouseResource(url=env["METERING_CLICKHOUSE_URL"]).get_client() as client:
        assert client.command("SELECT sum(event_count) FROM usage_hourly WHERE meter = 'gateway_requests'") > 0
        assert client.command("SELECT count() FROM quarantine") == 3
    # definitions.EXECUTOR: each step still in a process of its own (forked from one import per run)
    processes = step_processes(env)
    assert {"ingest", "usage_hourly", "billing_export"} <= set(processes), processes
    assert len(set(processes.values())) == len(processes), processes
