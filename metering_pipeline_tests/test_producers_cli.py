"""Every producer's published records in one hour, through `dagster asset materialize` and the packaged catalog.

The fixtures are the producers' own shapes (each folder's SOURCES.md cites repository, path and
commit); the per-format tests check their numbers exactly. Here they land together, as a
deployment receives them, and the whole graph (ingest, usage, dbt, alerts, export) runs through
the real code location: the run is green, every source reconciles line by line, and each
producer's meters have usage.
"""

import shutil
from datetime import datetime
from pathlib import Path

import pytest

from metering_pipeline.partitions import hour_start
from metering_pipeline.resources import ClickHouseResource
from metering_pipeline.samples import write_sample_hour
from metering_pipeline_tests.fixtures.landing import FIXTURES, HOUR_PATH, fill_attribution_table
from metering_pipeline_tests.support.cli import check_outcomes, materialize_hour, unexpected_failures
from metering_pipeline_tests.test_formats_ai_gateway import ROUTES as AI_ROUTES
from metering_pipeline_tests.test_formats_data_api import T1, T2
from metering_pipeline_tests.test_formats_envoy import ROUTES as ENVOY_ROUTES
from metering_pipeline_tests.test_formats_istio import SERVICES as ISTIO_SERVICES

KEY = "2026-11-22-10:00"
SINCE = datetime(2026, 1, 1)
# landing source -> fixture folders, as the packaged catalog names the sources
LANDED = {
    "envoy-gateway": ["envoy", "ai_gateway"],
    "istio-ingress": ["istio"],
    "data-api": ["data_api"],
    "billing-client": ["billing_client"],
}
# meter prefix each producer's usage shows under
METERS = {
    "envoy-gateway": "networking.datumapis.com/gateway/",
    "istio-ingress": "networking.datumapis.com/gateway/",
    "data-api": "data-api/",
    "billing-client": "billing-client/",
    "events": "gateway_",
}
ATTRIBUTION = [
    *ENVOY_ROUTES,
    *AI_ROUTES,
    *ISTIO_SERVICES,
    ("resource", "db-1", "acme", "ba-acme-1", SINCE, None),
    ("resource", "db-2", "globex", "ba-globex", SINCE, None),
    ("resource", T1, "initech", "ba-initech", SINCE, None),
    ("resource", T2, "umbrella", "ba-umbrella", SINCE, None),
    ("instance", "1001", "acme", "ba-acme-1", SINCE, None),
    ("instance", "2002", "globex", "ba-globex", SINCE, None),
]


def _land(landing: Path) -> None:
    write_sample_hour(landing, hour_start(KEY), events=50)
    for source, folders in LANDED.items():
        target = landing / source / HOUR_PATH
        target.mkdir(parents=True, exist_ok=True)
        for folder in folders:
            for path in sorted((FIXTURES / folder).glob("*.ndjson*")):
                shutil.copy(path, target / f"{folder}-{path.name}")


@pytest.mark.slow
def test_every_producer_in_one_hour_through_the_cli(tmp_path):
    landing = tmp_path / "landing"
    _land(landing)
    clickhouse = ClickHouseResource(url=f"chdb://{tmp_path / 'ch'}")
    fill_attribution_table(clickhouse, ATTRIBUTION)
    env = materialize_hour(tmp_path, landing, KEY, clickhouse_url=clickhouse.url)

    with clickhouse.get_client() as client:
        accepted = dict(client.query("SELECT source_file, count() FROM events GROUP BY source_file").result_rows)
        quarantined = dict(client.query("SELECT landing_source, count() FROM quarantine GROUP BY landing_source").result_rows)
        metered = [m for (m,) in client.query("SELECT DISTINCT meter FROM usage_hourly").result_rows]
        exported = client.command("SELECT count() FROM export_ledger")
    for source in ("events", *LANDED):
        assert any(f.startswith(f"{source}/") for f in accepted), f"{source}: nothing accepted"
        assert any(m.startswith(METERS[source]) for m in metered), f"{source}: no usage"
    assert set(quarantined) <= {"events", *LANDED}  # every broken fixture line is accounted for by its source
    with clickhouse.get_client() as client:
        real = client.command(  # the Data API's current release, as its serializer writes it (SOURCES.md): lines 1-13
            "SELECT count() FROM quarantine WHERE endsWith(source_file, 'data_api-current-release.ndjson') AND line_no <= 13"
        )
    assert real == 0
    assert exported > 0

    checks = check_outcomes(env)
    assert ("accepted_events", "lines_reconcile") in checks and unexpected_failures(checks) == []
    assert ("accepted_events", "expect_unattributed") in checks
