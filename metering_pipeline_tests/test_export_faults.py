"""S3 misbehaving: throttling, 5xx, resets and slow answers from a fault proxy in front of moto.

Transient faults are retried (bounded, with backoff and jitter) and counted in the run's
metadata; a persistent one fails the step loudly and records nothing as exported.
"""

import pytest

from metering_pipeline_tests.support.export_helpers import (
    checks,
    data_objects,
    ledger,
    make_store,
    manifests,
    metadata,
    records,
    revisions,
    run_export,
    set_usage,
    stored,
    usage,
)
from metering_pipeline_tests.support.fault_proxy import Fault, FaultProxy
from metering_pipeline_tests.support.s3_server import point_aws_at

USAGE = [usage(f"t{i:02d}", value=str(i)) for i in range(1, 61)]


@pytest.fixture
def faulty(s3, moto_server, monkeypatch):
    """Start a proxy with the given faults and point the AWS environment at it."""
    proxies = []

    def start(*faults: Fault) -> FaultProxy:
        proxy = FaultProxy(moto_server.url, list(faults), seed=3, max_seconds=60).start()
        point_aws_at(monkeypatch, proxy.url)
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        proxy.stop()


def test_throttling_5xx_and_resets_are_retried_then_succeed(clickhouse, s3, faulty, tmp_path):
    set_usage(clickhouse, USAGE)
    proxy = faulty(
        Fault("PUT", "503", first=3),
        Fault("PUT", "reset", first=1),
        Fault("PUT", "500", first=1),
        Fault("LIST", "500", first=1),
        Fault("LIST", "reset", first=1),
        Fault("GET", "503", first=1),
    )
    result = run_export(clickhouse, make_store("s3", tmp_path, s3))
    injected = sum(proxy.injected.values())
    assert proxy.injected[("PUT", "503")] == 3 and proxy.injected[("PUT", "reset")] == 1
    assert proxy.injected[("LIST", "reset")] == 1 and proxy.injected[("GET", "503")] == 1
    assert metadata(result)["retries"] == injected
    objects = stored(make_store("s3", tmp_path, s3))
    assert len(data_objects(objects)) == 2 and len(manifests(objects)) == 1
    assert len(records(objects)) == 60 and len(ledger(clickhouse)) == 60
    assert all(checks(result).values())


def test_slow_answers_past_the_timeout_are_retried(clickhouse, s3, faulty, tmp_path):
    set_usage(clickhouse, USAGE[:2])
    proxy = faulty(Fault("PUT", "slow", first=1, delay=1.5))
    result = run_export(clickhouse, make_store("s3", tmp_path, s3, timeout_seconds=0.5))
    assert proxy.injected[("PUT", "slow")] == 1 and metadata(result)["retries"] == 1
    assert all(checks(result).values())


def test_persistent_failure_fails_loudly_and_records_nothing(clickhouse, s3, faulty, tmp_path):
    set_usage(clickhouse, USAGE)
    proxy = faulty(Fault("PUT", "503", rate=1.0))
    result = run_export(clickhouse, make_store("s3", tmp_path, s3, retry_attempts=4), raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.event_specific_data.error.cause.message
    assert "failed after 4 attempts" in message and "SlowDown" in message
    assert proxy.requests["PUT"] == 4  # bounded: exactly the configured attempts, botocore adds none
    assert ledger(clickhouse) == [] and revisions(clickhouse) == []
    assert s3.keys() == []  # nothing written, no manifest

    proxy.stop()  # the outage ends: the next run exports everything once
    faulty()  # a proxy with no faults
    result = run_export(clickhouse, make_store("s3", tmp_path, s3))
    assert len(ledger(clickhouse)) == 60 and all(checks(result).values())
