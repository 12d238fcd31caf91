"""A backfill of three hours for every asset, launched from the Dagster UI in a real (headless) Chromium.

The webserver and daemon run the real code location on loopback with the embedded
defaults pointed into tmp_path; the test waits for the backfill through the instance,
then checks usage (and the billing export, when the code location has it) for those hours.
"""

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus

from metering_pipeline.partitions import hour_start, partition_key_for
from metering_pipeline.resources import ClickHouseResource
from metering_pipeline.samples import write_sample_hour
from metering_pipeline_tests.support.backfill_ui import (
    CHROMIUM,
    browser_page,
    launch_backfill,
    show_backfill,
)
from metering_pipeline_tests.support.dagster_stack import dagster_stack, write_instance

pytestmark = pytest.mark.slow
# Recent hours: the UI's partition picker shows the last 90 days.
FIRST = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
KEYS = [partition_key_for(FIRST + timedelta(hours=h)) for h in range(3)]
DONE = {BulkActionStatus.COMPLETED_SUCCESS, BulkActionStatus.COMPLETED_FAILED, BulkActionStatus.COMPLETED,
        BulkActionStatus.FAILED, BulkActionStatus.CANCELED}


def wait_for_backfill(home: Path, timeout: float = 900.0):
    deadline = time.monotonic() + timeout
    with dg.DagsterInstance.from_config(str(home)) as instance:
        while time.monotonic() < deadline:
            backfills = instance.get_backfills()
            if backfills and backfills[0].status in DONE:
                return backfills[0], [run.status for run in instance.get_runs()]
            time.sleep(3)
    raise TimeoutError(f"backfill not finished after {timeout}s")


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)")
def test_backfill_three_hours_of_every_asset_from_the_ui(tmp_path):
    from metering_pipeline.definitions import defs

    home, data = tmp_path / "dagster_home", tmp_path / "data"
    write_instance(home)
    for key in KEYS:
        write_sample_hour(data / "landing", hour_start(key), events=100)
    env = {**os.environ, "DAGSTER_HOME": str(home), "GX_ANALYTICS_ENABLED": "false",
           "METERING_CLICKHOUSE_URL": f"chdb://{data / 'clickhouse'}", "METERING_LANDING_URL": str(data / "landing"),
           "METERING_EXPORT_URL": str(data / "export")}
    env.pop("METERING_ALERT_WEBHOOK_URL", None)
    screenshot = tmp_path / "finished-backfill.png"
    with dagster_stack(env, tmp_path) as base, browser_page() as page:
        try:
            launch_backfill(page, base, KEYS)
            backfill, run_statuses = wait_for_backfill(home)
            assert backfill.status == BulkActionStatus.COMPLETED_SUCCESS, (tmp_path / "daemon.log").read_text()[-4000:]
            assert run_statuses and set(run_statuses) == {dg.DagsterRunStatus.SUCCESS}
            show_backfill(page, base, backfill.backfill_id, screenshot)
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            print(f"\nscreenshot at the failure: {tmp_path / 'failure.png'}")
            raise
    print(f"\nscreenshot of the finished backfill: {screenshot}")

    clickhouse = ClickHouseResource(url=env["METERING_CLICKHOUSE_URL"])
    with clickhouse.get_client() as client:
        hours = client.query("SELECT hour, sum(event_count) FROM usage_hourly WHERE meter = 'gateway_requests' "
                             "GROUP BY hour ORDER BY hour").result_rows
        events = client.query("SELECT hour, count() FROM events WHERE type = 'gateway.request' "
                              "GROUP BY hour ORDER BY hour").result_rows
    assert [h for h, _ in hours] == [hour_start(k).replace(tzinfo=None) for k in KEYS]
    assert all(metered > 0 for _, metered in hours) and hours == events

    asset_keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    if "billing_export" in asset_keys:
        from metering_pipeline.export import exported_keys
        from metering_pipeline.resources.export_store import ExportStore

        for key in KEYS:
            locations = exported_keys(clickhouse, [key], ExportStore(url=env["METERING_EXPORT_URL"]))
            assert any("_manifests" in loc for loc in locations) and all(Path(loc).is_file() for loc in locations)
