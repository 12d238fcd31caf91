"""Freshness: the last complete hour must be materialized within the delay, else a failing check and one alert."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from metering_pipeline.alerts import AlertWebhook
from metering_pipeline.freshness import CHECK_NAME, build_freshness, due_hour
from metering_pipeline.ingest.assets import ingest
from metering_pipeline.usage.assets import usage_hourly
from metering_pipeline_tests.support.operate import materialize, resources
from metering_pipeline_tests.support.webhook_receiver import WebhookReceiver


def test_due_hour_is_the_newest_hour_past_its_deadline():
    delay = timedelta(hours=2)
    assert due_hour(datetime(2026, 11, 22, 13, 0, tzinfo=UTC), delay) == "2026-11-22-10:00"
    assert due_hour(datetime(2026, 11, 22, 12, 59, tzinfo=UTC), delay) == "2026-11-22-09:00"
    assert due_hour(datetime(2026, 11, 23, 1, 30, tzinfo=UTC), timedelta(minutes=30)) == "2026-11-23-00:00"


def test_freshness_fails_while_the_due_hour_is_missing_and_alerts_once(clickhouse, landing):
    fresh = build_freshness("usage_hourly", delay=timedelta(hours=2), clock=lambda: datetime(2026, 11, 22, 13, 30, tzinfo=UTC))
    with dg.instance_for_test() as instance, WebhookReceiver() as hook:
        res = resources(clickhouse, landing, webhook_url=hook.url)
        defs = dg.Definitions(
            assets=[ingest, usage_hourly], asset_checks=fresh.checks, jobs=fresh.jobs, schedules=fresh.schedules, resources=res
        )
        job = defs.resolve_job_def("freshness_checks")

        def evaluate() -> dg.AssetCheckEvaluation:
            [evaluation] = job.execute_in_process(instance=instance).get_asset_check_evaluations()
            assert evaluation.check_name == CHECK_NAME
            return evaluation

        materialize(res, ["2026-11-22-09:00"], instance, assets=(ingest, usage_hourly))
        missing = evaluate()
        assert not missing.passed and missing.metadata["due_hour"].value == "2026-11-22-10:00"
        assert len(hook.texts()) == 1 and "2026-11-22-10:00" in hook.texts()[0]
        assert not evaluate().passed and len(hook.texts()) == 1  # same missing hour: no second alert

        materialize(res, ["2026-11-22-10:00"], instance, assets=(ingest, usage_hourly))
        assert evaluate().passed


def test_a_late_materialization_of_an_old_hour_does_not_count_as_fresh(clickhouse, landing):
    fresh = build_freshness("usage_hourly", delay=timedelta(hours=2), clock=lambda: datetime(2026, 11, 22, 13, 30, tzinfo=UTC))
    with dg.instance_for_test() as instance:
        res = {**resources(clickhouse, landing), "alert_webhook": AlertWebhook()}
        defs = dg.Definitions(assets=[ingest, usage_hourly], asset_checks=fresh.checks, jobs=fresh.jobs, resources=res)
        materialize(res, ["2026-11-22-11:00"], instance, assets=(ingest, usage_hourly))  # newer hour, not the due one
        [evaluation] = defs.resolve_job_def("freshness_checks").execute_in_process(instance=instance).get_asset_check_evaluations()
    assert not evaluation.passed
