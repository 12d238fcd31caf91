"""What goes wrong is counted too: webhook deliveries that fail (a real HTTP server on loopback answering
503), and failed runs recorded in `pipeline_runs` by the run-failure sensor (real failed `materialize`
runs on a real Dagster instance), pushed to Debian's Pushgateway and shown by `metering-pipeline status`."""

from datetime import datetime, timedelta

import dagster as dg
import pytest

from metering_pipeline import definitions
from metering_pipeline.cli.status import HEADER, status_rows
from metering_pipeline.observability import PIPELINE_RUNS, Pushgateway, pipeline_runs, record_failed_run
from metering_pipeline.observability.failures import SENSOR
from metering_pipeline.partitions import hour_start
from metering_pipeline.resources import LandingZone
from metering_pipeline.samples import TENANTS, write_sample_hour
from metering_pipeline.schedules import ASSET_POLICY
from metering_pipeline.usage.assets import usage_hourly
from metering_pipeline_tests.support.operate import PIPELINE, materialize, resources, write_quotas
from metering_pipeline_tests.support.pushgateway import PushgatewayProcess
from metering_pipeline_tests.support.webhook_receiver import WebhookReceiver

KEY = "2026-11-22-10:00"
LATER_KEY = "2026-11-22-11:00"


@pytest.fixture
def gateway(tmp_path):
    process = PushgatewayProcess(tmp_path)
    yield process
    process.stop()


def _one(samples: dict, name: str, **labels) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def _deliveries(samples: dict) -> dict[str, float]:
    return {dict(labels)["outcome"]: v for (name, labels), v in samples.items() if name == "metering_alert_deliveries_total"}


@pytest.mark.slow
def test_webhook_deliveries_are_counted_by_outcome(tmp_path, clickhouse, landing, landing_dir, gateway):
    """The first alert is delivered, the second meets four 503s (failed: it stays pending), the rest are not
    tried that run (deferred); the next run delivers every pending alert. Each outcome is counted."""
    write_sample_hour(landing_dir, hour_start(KEY), events=40)
    quotas = write_quotas(
        tmp_path / "quotas.yaml", [{"tenant": t, "meter": "gateway_requests", "quota": 1, "thresholds": [50, 100]} for t in TENANTS]
    )
    with WebhookReceiver(statuses=[200, 503, 503, 503, 503]) as hook:
        res = {**resources(clickhouse, landing, quotas=quotas, webhook_url=hook.url), "pushgateway": Pushgateway(url=gateway.url)}
        result = materialize(res, [KEY], assets=(*PIPELINE, pipeline_runs))
        first = gateway.samples()
        [alerts] = [m for m in result.get_asset_materialization_events() if m.asset_key.to_user_string() == "usage_alerts"]
        fired = alerts.materialization.metadata["fired"].value
        assert fired >= 3 and hook.requests == 5
        assert _deliveries(first) == {"delivered": 1, "failed": 1, "deferred": fired - 2}
        assert _one(first, "metering_alert_delivery_attempts_total") == 5
        assert _one(first, "metering_usage_alerts_pending") == fired - 1

        materialize(res, [KEY], assets=(*PIPELINE, pipeline_runs))  # the webhook is back: the pending alerts go out
        second = gateway.samples()
    assert len(hook.bodies) == fired
    assert _deliveries(second) == {"delivered": fired, "failed": 1, "deferred": fired - 2}  # counters: this run's outcomes added
    assert _one(second, "metering_alert_delivery_attempts_total") == 5 + fired - 1
    assert _one(second, "metering_usage_alerts_pending") == 0


class UnreadableLanding(LandingZone):
    """A landing zone whose listing fails, as a revoked bucket policy or a lost mount does."""

    def list_hour(self, source: str, hour: datetime):
        raise PermissionError(f"cannot list {source}")


@dg.asset(deps=["accepted_events"], **ASSET_POLICY)
def exploding_report() -> None:
    """A step after ingest that fails: the run fails while the observer may still record ingest."""
    raise RuntimeError("report failed")


def _sensor_context(instance, run: dg.ExecuteInProcessResult, res: dict):
    return dg.build_run_status_sensor_context(
        sensor_name=SENSOR,
        dagster_event=run.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=run.dagster_run,
        resources={"clickhouse": res["clickhouse"], "pushgateway": res["pushgateway"]},
    ).for_run_failure()


def _failed_run(instance, res: dict, keys: list[str], assets) -> dg.ExecuteInProcessResult:
    tags = {} if len(keys) == 1 else {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}
    run = dg.materialize(
        list(assets), partition_key=keys[0] if len(keys) == 1 else None, tags=tags, resources=res, instance=instance, raise_on_error=False
    )
    assert not run.success
    return run


@pytest.mark.slow
def test_a_failed_run_is_recorded_pushed_and_shown(tmp_path, clickhouse, landing, landing_dir, gateway):
    for key in (KEY, LATER_KEY):
        write_sample_hour(landing_dir, hour_start(key), events=10)
    res = {**resources(clickhouse, landing), "pushgateway": Pushgateway(url=gateway.url)}
    assets = (PIPELINE[0], usage_hourly, pipeline_runs)
    with dg.instance_for_test() as instance:
        materialize(res, [KEY], instance=instance, assets=assets)
        succeeded = gateway.samples()
        broken = {**res, "landing": UnreadableLanding(url=str(landing_dir))}
        failed = _failed_run(instance, broken, [KEY, LATER_KEY], assets)  # a single-run backfill of two hours
        assert gateway.samples() == succeeded  # the observer was skipped: nothing recorded or pushed by the run
        record_failed_run(_sensor_context(instance, failed, res))
        record_failed_run(_sensor_context(instance, failed, res))  # a tick evaluated again writes nothing twice
    with clickhouse.get_client() as client:
        rows = client.query(
            f"SELECT asset, first_hour, last_hour, hours, outcome, error, started <= finished FROM {PIPELINE_RUNS} "
            "WHERE run_id = {run:String}",
            parameters={"run": failed.run_id},
        ).result_rows
        status = [dict(zip(HEADER, r)) for r in status_rows(client, hour_start(KEY), hour_start(LATER_KEY) + timedelta(hours=1))]
    start, end = hour_start(KEY).replace(tzinfo=None), hour_start(LATER_KEY).replace(tzinfo=None)
    assert [(a, f.replace(tzinfo=None), la.replace(tzinfo=None), *rest) for a, f, la, *rest in rows] == [
        ("accepted_events", start, end, 2, "failure", "PermissionError", True)  # usage_hourly never ran: skipped, not failed
    ]
    pushed = gateway.samples()
    assert _one(pushed, "metering_hour_failures_total", asset="accepted_events") == 2
    assert _one(pushed, "metering_hour_failures_total", asset="usage_hourly") == 0
    success = ("metering_last_success_timestamp_seconds", (("asset", "accepted_events"),))
    assert pushed[success] == succeeded[success]  # a failure is never a success
    assert [(r["hour"], r["failed"]) for r in status] == [
        ("2026-11-22 11:00", "accepted_events(PermissionError)"),
        ("2026-11-22 10:00", "accepted_events(PermissionError)"),
    ]
    assert status[1]["ingested_at"] != ""  # 10:00 was ingested before the failed attempt


@pytest.mark.slow
def test_a_run_failing_after_ingest_records_ingest_and_the_failed_step(tmp_path, clickhouse, landing, landing_dir):
    """Ingest's work in a failed run is history too; a failed step with no observed asset is named by its step."""
    write_sample_hour(landing_dir, hour_start(KEY), events=10)
    res = {**resources(clickhouse, landing), "pushgateway": Pushgateway(url="")}
    with dg.instance_for_test() as instance:
        failed = _failed_run(instance, res, [KEY], (PIPELINE[0], exploding_report))
        record_failed_run(_sensor_context(instance, failed, res))
    with clickhouse.get_client() as client:
        rows = client.query(f"SELECT asset, outcome, error, length(figures.metric) > 0 FROM {PIPELINE_RUNS} ORDER BY asset").result_rows
    assert rows == [("accepted_events", "success", "", True), ("exploding_report", "failure", "RuntimeError", False)]


def test_the_failure_sensor_is_in_the_code_location_on_by_default_with_its_resources():
    defs = definitions.defs
    sensor = defs.resolve_sensor_def(SENSOR)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING  # billing audits do not depend on someone switching it on
    assert sensor.required_resource_keys == {"clickhouse", "pushgateway"}
    assert isinstance(defs.resources["pushgateway"], Pushgateway)
