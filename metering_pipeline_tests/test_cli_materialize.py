"""The documented CLI materializes one hour end to end through the real code location."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from metering_pipeline.partitions import hour_start
from metering_pipeline.resources import ClickHouseResource
from metering_pipeline.samples import write_sample_hour

KEY = "2026-11-22-10:00"


@pytest.mark.slow
def test_dagster_asset_materialize_one_partition(tmp_path):
    landing = tmp_path / "landing"
    write_sample_hour(landing, hour_start(KEY), events=50)
    env = {
        **os.environ,
        "METERING_CLICKHOUSE_URL": f"chdb://{tmp_path / 'ch'}",
        "METERING_LANDING_URL": str(landing),
        "METERING_EXPORT_URL": str(tmp_path / "export"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }
    Path(env["DAGSTER_HOME"]).mkdir()
    dagster = Path(sys.executable).with_name("dagster")
    completed = subprocess.run(
        [str(dagster), "asset", "materialize", "-m", "metering_pipeline.definitions", "--select", "*", "--partition", KEY],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    with ClickHouseResource(url=env["METERING_CLICKHOUSE_URL"]).get_client() as client:
        assert client.command("SELECT sum(event_count) FROM usage_hourly WHERE meter = 'gateway_requests'") > 0
        assert client.command("SELECT count() FROM quarantine") == 3
