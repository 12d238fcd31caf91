"""A backfill of three hours for every asset, launched from the Dagster UI in a real (headless) Chromium.

The webserver and daemon run the real code location on loopback with the embedded
defaults pointed into tmp_path; the test follows the backfill through the webserver's
GraphQL API, then checks usage and the billing export for those hours.

Without Chromium at /usr/bin/chromium the test skips on a developer's machine and fails
under CI=true (.ci/run installs Debian's chromium and refuses to go on without it).
"""

import hashlib
import json
import os
import time
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from metering_pipeline.export.layout import manifest_key, window_path
from metering_pipeline.partitions import hour_start, partition_key_for
from metering_pipeline.resources import ClickHouseResource
from metering_pipeline.samples import write_sample_hour
from metering_pipeline_tests.support.backfill_ui import (
    BACKFILL_DONE,
    backfill_run_statuses,
    backfills,
    browser_page,
    launch_backfill,
    require_chromium,
    show_backfill,
)
from metering_pipeline_tests.support.dagster_stack import dagster_stack, write_instance

pytestmark = pytest.mark.slow
# Recent hours: the UI's partition picker shows the last 90 days.
FIRST = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
KEYS = [partition_key_for(FIRST + timedelta(hours=h)) for h in range(3)]


def wait_for_backfill(base: str, timeout: float = 900.0) -> tuple[dict, list[str]]:
    """The backfill (GraphQL id and BulkActionStatus) once it is done, and the statuses of its runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = backfills(base)
        if found and found[0]["status"] in BACKFILL_DONE:
            return found[0], backfill_run_statuses(base, found[0]["id"])
        time.sleep(3)
    raise TimeoutError(f"backfill not finished after {timeout}s")


def test_backfill_three_hours_of_every_asset_from_the_ui(tmp_path):
    require_chromium()
    home, data = tmp_path / "dagster_home", tmp_path / "data"
    write_instance(home)
    for key in KEYS:
        write_sample_hour(data / "landing", hour_start(key), events=100)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "GX_ANALYTICS_ENABLED": "false",
        "METERING_CLICKHOUSE_URL": f"chdb://{data / 'clickhouse'}",
        "METERING_LANDING_URL": str(data / "landing"),
        "METERING_EXPORT_URL": str(data / "export"),
    }
    env.pop("METERING_ALERT_WEBHOOK_URL", None)
    screenshot = tmp_path / "finished-backfill.png"
    with dagster_stack(env, tmp_path) as base, browser_page() as page:
        try:
            launch_backfill(page, base, KEYS)
            backfill, run_statuses = wait_for_backfill(base)
            assert backfill["status"] == "COMPLETED_SUCCESS", (tmp_path / "daemon.log").read_text()[-4000:]
            assert run_statuses and set(run_statuses) == {dg.DagsterRunStatus.SUCCESS.value}
            show_backfill(page, base, backfill["id"], screenshot)
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            print(f"\nscreenshot at the failure: {tmp_path / 'failure.png'}")
            raise
    print(f"\nscreenshot of the finished backfill: {screenshot}")

    clickhouse = ClickHouseResource(url=env["METERING_CLICKHOUSE_URL"])
    with clickhouse.get_client() as client:
        hours = client.query(
            "SELECT hour, sum(event_count) FROM usage_hourly WHERE meter = 'gateway_requests' GROUP BY hour ORDER BY hour"
        ).result_rows
        events = client.query("SELECT hour, count() FROM events WHERE type = 'gateway.request' GROUP BY hour ORDER BY hour").result_rows
    assert [h for h, _ in hours] == [hour_start(k).replace(tzinfo=None) for k in KEYS]
    assert all(metered > 0 for _, metered in hours) and hours == events

    # The billing export of every hour: a usage revision whose manifest lists exactly the hour's objects,
    # each present with the bytes and sha256 the manifest records, and the ledger pointing at the same keys.
    from metering_pipeline.export import exported_keys

    root = data / "export"
    for key in KEYS:
        start = hour_start(key)
        manifest_path = root / manifest_key(start, 0)
        assert manifest_path.is_file(), f"no manifest for {key} under {root}"
        manifest = json.loads(manifest_path.read_bytes())
        assert manifest["partition_key"] == key and manifest["kind"] == "usage" and manifest["records"] > 0
        assert "gateway_requests" in manifest["quantity_sums"]
        listed = {o["key"]: o for o in manifest["objects"]}
        present = {p.relative_to(root).as_posix() for p in root.rglob("*.jsonl") if p.parent.as_posix().endswith(window_path(start))}
        assert present == set(listed), f"{key}: objects on disk {sorted(present)} vs manifest {sorted(listed)}"
        for name, entry in listed.items():
            body = (root / name).read_bytes()
            assert len(body) == entry["bytes"] and hashlib.sha256(body).hexdigest() == entry["sha256"], name
        assert sum(o["records"] for o in manifest["objects"]) == manifest["records"]
        locations = exported_keys(clickhouse, [key])
        assert sorted(locations) == sorted([*listed, manifest_key(start, 0)])
