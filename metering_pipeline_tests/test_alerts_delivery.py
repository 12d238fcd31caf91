"""Webhook delivery: retries with backoff, pending on failure and retried the next hour, a failing check meanwhile."""

import json

from metering_pipeline.alerts import AlertWebhook
from metering_pipeline_tests.support.events import land, line, query
from metering_pipeline_tests.support.operate import (
    check_results,
    materialize,
    resources,
    write_quotas,
)
from metering_pipeline_tests.support.webhook_receiver import WebhookReceiver


def setup_hours(landing_dir, tmp_path) -> str:
    land(landing_dir, "a.ndjson", [line(f"e{i}") for i in range(4)])
    land(landing_dir, "a.ndjson", [line("late", time="2026-11-22T11:30:00Z")], hour_dir="events/2026/11/22/11")
    return write_quotas(tmp_path / "q.yaml", [{"tenant": "acme", "meter": "gateway_requests", "quota": 4, "thresholds": [100]}])


def statuses(clickhouse) -> list[tuple]:
    return query(clickhouse, "SELECT delivery_status, attempts, last_error FROM usage_alerts FINAL")


def test_webhook_failing_twice_then_succeeding_delivers_once(clickhouse, landing, landing_dir, tmp_path):
    quotas = setup_hours(landing_dir, tmp_path)
    with WebhookReceiver(statuses=[500, 503]) as hook:
        result = materialize(resources(clickhouse, landing, quotas, hook.url), ["2026-11-22-10:00"])
    assert hook.requests == 3 and len(hook.bodies) == 1
    assert set(hook.bodies[0]) == {"text"} and "100.00%" in hook.bodies[0]["text"]
    assert statuses(clickhouse) == [("delivered", 3, "")]
    assert check_results(result)["alerts_delivered"].passed


def test_failing_delivery_stays_pending_fails_the_check_and_is_retried_next_hour(clickhouse, landing, landing_dir, tmp_path):
    quotas = setup_hours(landing_dir, tmp_path)
    with WebhookReceiver(default=500) as hook:
        result = materialize(resources(clickhouse, landing, quotas, hook.url), ["2026-11-22-10:00"])
        assert hook.requests == 4  # AlertWebhook's default attempts
        assert statuses(clickhouse) == [("pending", 4, "HTTP 500")]
        check = check_results(result)["alerts_delivered"]
        assert not check.passed and check.metadata["pending"].value == 1
        every_event = json.dumps([str(e) for e in result.all_events])
        assert hook.url not in every_event and "s3cr3t-token" not in every_event

        hook.default = 200
        result = materialize(resources(clickhouse, landing, quotas, hook.url), ["2026-11-22-11:00"])
    assert statuses(clickhouse) == [("delivered", 5, "")]
    assert len(hook.bodies) == 1 and check_results(result)["alerts_delivered"].passed


def test_without_a_webhook_alerts_are_stored_only(clickhouse, landing, landing_dir, tmp_path):
    quotas = setup_hours(landing_dir, tmp_path)
    result = materialize(resources(clickhouse, landing, quotas), ["2026-11-22-10:00"])
    assert statuses(clickhouse) == [("stored", 0, "")]
    assert check_results(result)["alerts_delivered"].passed


def test_unreachable_webhook_error_never_names_the_url():
    hook = AlertWebhook(url="http://127.0.0.1:9/hooks/s3cr3t-token", attempts=2, backoff_seconds=0.01, timeout_seconds=1)
    outcome = hook.send("hello")
    assert not outcome.ok and outcome.attempts == 2 and "s3cr3t" not in outcome.error
