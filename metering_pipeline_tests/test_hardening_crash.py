"""Crash anywhere, rerun, same result: SIGKILL the real hourly job at seeded points, rerun it, compare everything.

One clean run of the hour (local export) is the reference. The episode kills the job five
times in a row, each rerun dying further on (reading landing files; between the quarantine
REPLACE and the staging cleanup; between two export PUTs; after the ledger commit, before
the manifest; in the middle of `dbt build`), then lets a rerun finish, and compares every
table of the warehouse and of the dbt schema, and every exported object and manifest,
with the reference. The export of the episode goes to S3 (moto): the same keys and bytes
as the local reference. `make soak` runs 50 kills (python -m soak.run).

The last test proves the comparison is not blind: altering one object, one mart row and
one ledger row of a finished hour is reported, and a leftover staging table is not.
"""

import random

import pytest

from metering_pipeline.resources import ClickHouseResource
from metering_pipeline_tests.support.crash_harness import (
    ForkServer,
    Profile,
    Sandbox,
    crash_episode,
    run_hour,
    write_catalog,
    write_hour,
)
from metering_pipeline_tests.support.hour_snapshot import differences, take_snapshot
from metering_pipeline_tests.support.s3_server import REGION, create_bucket

pytestmark = pytest.mark.slow
SEED = 7
KILLS = ["file reads", "between REPLACE and staging cleanup", "between S3 PUTs", "after the commit, before the manifest", "during dbt"]


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    landing_bytes = write_hour(root / "landing", events=1500, tenants=60)
    catalog = str(write_catalog(root / "catalog.yaml"))
    with ForkServer() as server:
        reference = Sandbox(root / "reference", str(root / "landing"), str(root / "reference" / "export"), catalog)
        clean = run_hour(server, reference)
        assert clean.status == 0, clean.log_tail()
        profile = Profile.of(clean.trace, landing_bytes)
        snapshot = take_snapshot(reference.clickhouse_url, reference.export)
        yield server, root, catalog, profile, snapshot


@pytest.fixture(scope="module")
def episode(harness, moto_server):
    server, root, catalog, profile, reference = harness
    aws = {
        "AWS_ENDPOINT_URL": moto_server.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in aws.items():
            patch.setenv(name, value)
        bucket = create_bucket(moto_server.url, "crash-episode")
        sandbox = Sandbox(root / "episode", str(root / "landing"), bucket.url("billing/v1"), catalog, extra_env=aws)
        result = crash_episode(server, sandbox, KILLS, profile, random.Random(SEED), reference, endpoint=moto_server.url)
        yield sandbox, result, reference, patch


def test_the_reference_is_a_whole_hour(harness):
    _, _, _, profile, reference = harness
    assert profile.data_puts > 20 and profile.ingest_statements[1] > 50
    assert all(reference.tables[f"metering.{t}"] for t in ("events", "quarantine", "usage_hourly", "export_ledger"))
    assert all(reference.tables[f"metering_analytics.{t}"] for t in ("usage_daily", "quarantine_summary"))
    assert any(k.startswith("_manifests/") for k in reference.objects) and any(k.startswith("_draft/") for k in reference.objects)


def test_killed_five_times_then_rerun_is_the_clean_hour(episode):
    _, result, _, _ = episode
    assert [point for point, _ in result.kills] == KILLS, result.not_reached
    stages = [stage for _, stage in result.kills]
    engine_reads = ("ingest: SELECT source_file, any(landing_source)", "ingest: INSERT INTO `_stage_")  # census, mapping
    assert stages[0].startswith(engine_reads) and "REPLACE PARTITION" in stages[1], stages
    assert stages[2].startswith("export: PUT ") and stages[3].startswith("export: PUT _manifests/")
    assert stages[4] == "dbt: dbt build"
    assert result.diffs == []


def test_the_comparison_sees_a_changed_object_a_lost_mart_row_and_a_doubled_ledger_row(episode, moto_server):
    sandbox, _, reference, _ = episode
    bucket_name, prefix = sandbox.export[len("s3://") :].split("/", 1)
    s3 = __import__("boto3").session.Session().client("s3", endpoint_url=moto_server.url, region_name=REGION)
    key = sorted(k for k in reference.objects if not k.startswith("_"))[0]
    body = bytearray(reference.objects[key])
    body[10] ^= 1
    s3.put_object(Bucket=bucket_name, Key=f"{prefix}/{key}", Body=bytes(body))
    with ClickHouseResource(url=sandbox.clickhouse_url).get_client() as client:
        client.command("INSERT INTO export_ledger SELECT * FROM export_ledger LIMIT 1")
        client.command("DELETE FROM metering_analytics.usage_daily WHERE tenant_id = 'acme'")
        client.command("CREATE TABLE _stage_0000000000000000_events AS events")  # what a killed run leaves: not a result
    found = differences(reference, take_snapshot(sandbox.clickhouse_url, sandbox.export, endpoint=moto_server.url))
    assert [d.split(":")[0] for d in found] == [
        "table metering.export_ledger",
        "table metering_analytics.usage_daily",
        f"object {key}",
    ], found
    assert "1 extra" in found[0] and "0 extra" in found[1] and "bytes differ" in found[2]
