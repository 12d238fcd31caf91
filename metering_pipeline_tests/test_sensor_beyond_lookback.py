"""A file landing in an hour older than the lookback: reported (failing check, one alert), never rerun, never ignored."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from metering_pipeline.ingest.assets import ingest
from metering_pipeline.sensors import (
    build_late_file_sensor,
    build_late_files_check,
    landing_zone,
)
from metering_pipeline_tests.support.events import land, line
from metering_pipeline_tests.support.operate import materialize, resources, tick
from metering_pipeline_tests.support.webhook_receiver import WebhookReceiver

K10 = "2026-11-22-10:00"
LATER = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # hour 10 of the 22nd is 8 days old


def audit_now(instance, res) -> dg.AssetCheckEvaluation:
    check = build_late_files_check(lookback=timedelta(days=7), clock=lambda: LATER)
    defs = dg.Definitions(
        assets=[landing_zone],
        asset_checks=[check],
        resources=res,
        jobs=[dg.define_asset_job("audit", selection=dg.AssetSelection.checks(check))],
    )
    [evaluation] = defs.resolve_job_def("audit").execute_in_process(instance=instance).get_asset_check_evaluations()
    return evaluation


def test_late_file_beyond_lookback_fails_the_landing_check_and_alerts_once(clickhouse, landing, landing_dir):
    land(landing_dir, "a.ndjson", [line("e1")])
    sensor = build_late_file_sensor(lookback=timedelta(days=7), audit_hours_per_tick=2, clock=lambda: LATER)
    with dg.instance_for_test() as instance, WebhookReceiver() as hook:
        res = resources(clickhouse, landing, webhook_url=hook.url)
        for key in ("2026-11-22-08:00", "2026-11-22-09:00", K10):
            materialize(res, [key], instance, assets=(ingest,))
        first = tick(sensor, instance, res)
        [evaluation] = first.asset_events
        assert evaluation.passed and evaluation.check_name == "no_late_files_beyond_lookback"

        land(landing_dir, "late.ndjson", [line("e2")])
        second = tick(sensor, instance, res, first.cursor)  # the sweep's slice: 09:00 and 08:00
        assert not second.asset_events and not second.run_requests
        third = tick(sensor, instance, res, second.cursor)  # wrapped around: 10:00 again
        assert not third.run_requests
        [evaluation] = third.asset_events
        assert not evaluation.passed and evaluation.metadata["stale_hours"].value == [K10]
        assert len(hook.texts()) == 1 and K10 in hook.texts()[0]

        fourth = tick(sensor, instance, res, third.cursor)
        assert not fourth.asset_events and len(hook.texts()) == 1  # reported once, not every tick

        on_demand = audit_now(instance, res)
        assert not on_demand.passed and on_demand.metadata["stale_hours"].value == [K10]

        materialize(res, [K10], instance, assets=(ingest,))  # an operator reprocesses the hour
        [cleared] = tick(sensor, instance, res, fourth.cursor).asset_events
        assert cleared.passed and audit_now(instance, res).passed
