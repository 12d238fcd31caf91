"""S3 misbehaving under a whole hour: landing and export both on S3 (moto) behind the fault-injecting proxy.

At a 20% fault rate (503 SlowDown, 500, connection resets and answers slower than the
export's timeout, on PUT, GET and LIST alike) the hour completes with exactly the tables
and objects of a clean run. At 100% it fails loudly after a bounded number of attempts,
first on the landing, then on the export, and the clean run after the outage ends with
exactly the clean run's tables and objects: nothing doubled, one revision.
"""

import time
from pathlib import Path

import dagster as dg
import pytest

from metering_pipeline.export.assets import billing_export
from metering_pipeline.ingest.assets import ingest
from metering_pipeline.resources import CatalogResource, ClickHouseResource, LandingZone
from metering_pipeline.resources import landing as landing_module
from metering_pipeline.resources.export_store import ExportStore
from metering_pipeline.resources.s3 import s3_client
from metering_pipeline.usage.assets import usage_hourly
from metering_pipeline_tests.support.crash_harness import KEY, write_catalog, write_hour
from metering_pipeline_tests.support.fault_proxy import Fault, FaultProxy
from metering_pipeline_tests.support.hour_snapshot import differences, take_snapshot
from metering_pipeline_tests.support.s3_server import REGION, create_bucket, point_aws_at

pytestmark = pytest.mark.slow
KINDS = ("503", "500", "reset", "slow")


def twenty_percent() -> list[Fault]:
    """Four faults tried in turn at 5.43% each on every request: 1 - 0.9457**4 = 20% of requests misbehave."""
    return [Fault("*", kind, rate=0.0543, delay=1.5) for kind in KINDS]


@pytest.fixture(scope="module")
def hour(moto_server, tmp_path_factory):
    """The hour's files on S3, its catalog, and a clean run's snapshot (no proxy)."""
    root = tmp_path_factory.mktemp("s3-hour")
    write_hour(root / "landing", events=800, tenants=40)
    catalog = str(write_catalog(root / "catalog.yaml"))
    with pytest.MonkeyPatch.context() as patch:
        point_aws_at(patch, moto_server.url)
        bucket = create_bucket(moto_server.url, "hardening-s3")
        client = bucket.client()
        for path in sorted((root / "landing").rglob("*.ndjson*")):
            key = f"landing/{path.relative_to(root / 'landing').as_posix()}"
            client.put_object(Bucket=bucket.bucket, Key=key, Body=path.read_bytes())
        result = run(bucket, root / "clean", catalog, "clean")
        assert result.success
        reference = take_snapshot(f"chdb://{root / 'clean'}", bucket.url("clean"), endpoint=moto_server.url)
    return bucket, catalog, reference, root


def run(bucket, directory: Path, catalog: str, prefix: str, retry_attempts: int = 6) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [ingest, usage_hourly, billing_export],
        partition_key=KEY,
        raise_on_error=False,
        resources={
            "clickhouse": ClickHouseResource(url=f"chdb://{directory}"),
            "landing": LandingZone(url=bucket.url("landing"), region=REGION),
            "catalog": CatalogResource(path=catalog),
            "export_store": ExportStore(
                url=bucket.url(prefix),
                region=REGION,
                retry_attempts=retry_attempts,
                retry_base_seconds=0.01,
                retry_max_seconds=0.05,
                timeout_seconds=1.0,
            ),
        },
    )


def failure_text(result) -> str:
    """`<step>: <message> | <cause's message> | ...` of the run's one step failure."""
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    messages, error = [], failure.event_specific_data.error
    while error is not None:
        messages.append(error.message.strip())
        error = error.cause or error.context
    return f"{failure.step_key}: " + " | ".join(messages)


def test_twenty_percent_faults_give_the_clean_run(hour, moto_server, monkeypatch, tmp_path):
    bucket, catalog, reference, _ = hour
    with FaultProxy(moto_server.url, twenty_percent(), seed=20, max_seconds=300) as proxy:
        point_aws_at(monkeypatch, proxy.url)
        result = run(bucket, tmp_path / "ch", catalog, "faulty")
    assert result.success, failure_text(result)
    injected = sum(proxy.injected.values())
    seen = sum(proxy.requests.values())
    assert 0.1 < injected / seen < 0.3, proxy.injected
    for operation in ("PUT", "GET", "LIST"):  # every operation class was hit, by more than one kind of fault
        assert len({kind for (op, kind) in proxy.injected if op == operation}) >= 2, proxy.injected
    candidate = take_snapshot(f"chdb://{tmp_path / 'ch'}", bucket.url("faulty"), endpoint=moto_server.url)
    assert differences(reference, candidate) == []
    assert candidate.leftovers == []


def test_total_outage_fails_loudly_then_the_next_run_doubles_nothing(hour, moto_server, monkeypatch, tmp_path):
    bucket, catalog, reference, _ = hour
    directory = tmp_path / "ch"

    # The landing zone is down: ingest fails after botocore's bounded retries on the listing and writes nothing.
    # The landing client makes 7 attempts (6 retries; standard mode, jittered backoff up to 20 s: up to ~50 s of waiting);
    # the test lowers that to 2 retries to stay fast, the bound itself is what is checked.
    assert LandingZone(url=bucket.url("landing"), region=REGION)._client().meta.config.retries == {
        "mode": "standard",
        "total_max_attempts": 7,
    }
    with (
        pytest.MonkeyPatch.context() as patch,
        FaultProxy(moto_server.url, [Fault("LIST", "503"), Fault("GET", "503")], max_seconds=120) as proxy,
    ):
        patch.setattr(landing_module, "s3_client", lambda region: s3_client(region, max_attempts=2))
        point_aws_at(monkeypatch, proxy.url)
        started = time.monotonic()
        result = run(bucket, directory, catalog, "outage")
        elapsed = time.monotonic() - started
    assert not result.success
    text = failure_text(result)
    assert text.startswith("ingest:") and "SlowDown" in text and "reached max retries: 2" in text
    assert proxy.requests["LIST"] == 3 and elapsed < 60
    assert take_snapshot(f"chdb://{directory}", bucket.url("outage"), endpoint=moto_server.url).objects == {}

    # The landing is back but every PUT is throttled: the export fails after its 4 attempts, records nothing.
    with FaultProxy(moto_server.url, [Fault("PUT", "503")], max_seconds=120) as proxy:
        point_aws_at(monkeypatch, proxy.url)
        result = run(bucket, directory, catalog, "outage", retry_attempts=4)
    assert not result.success
    text = failure_text(result)
    assert text.startswith("billing_export:") and "failed after 4 attempts" in text and "SlowDown" in text
    assert proxy.requests["PUT"] == 4  # the first PUT, four times, then the step gave up
    with ClickHouseResource(url=f"chdb://{directory}").get_client() as client:
        assert client.command("SELECT count() FROM export_ledger") == 0
        assert client.command("SELECT count() FROM export_revisions") == 0
    assert bucket.keys("outage/") == []

    # The outage ends: the next run is exactly the clean run, nothing doubled, one revision.
    point_aws_at(monkeypatch, moto_server.url)
    result = run(bucket, directory, catalog, "outage")
    assert result.success, failure_text(result)
    candidate = take_snapshot(f"chdb://{directory}", bucket.url("outage"), endpoint=moto_server.url)
    assert differences(reference, candidate) == []
    assert sum(k.startswith("_manifests/") for k in candidate.objects) == 1
