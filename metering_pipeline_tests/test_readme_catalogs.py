"""Every example catalog in the README is loaded and run, with nothing else configured, and the run is green.

An example is a ```yaml block after a `<!-- example-catalog: <format> -->` marker; the format
names the fixture folders whose producer records are landed for each of its sources. The whole
graph (ingest, usage, dbt, alerts, export) runs through `dagster asset materialize` on the code
location, with METERING_CATALOG pointing at the example and the embedded defaults under tmp_path. A YAML block in the README
that looks like a catalog but carries no marker fails the test, so no example escapes it.
"""

import re
import shutil
from pathlib import Path

import pytest

from metering_pipeline.catalog import load_catalog
from metering_pipeline.resources import ClickHouseResource
from metering_pipeline_tests.fixtures.landing import FIXTURES, HOUR_PATH
from metering_pipeline_tests.support.cli import check_outcomes, materialize_hour, unexpected_failures

README = Path(__file__).resolve().parents[1] / "README.md"
KEY = "2026-11-22-10:00"
EXAMPLE = re.compile(r"<!-- example-catalog: (\w+) -->\s*```yaml\n(.*?)```", re.S)
# format -> fixture folders holding that producer's records
RECORDS = {"cloudevents": ["openmeter"], "envoy_access_log": ["ai_gateway"]}


def examples() -> list[tuple[str, str]]:
    return EXAMPLE.findall(README.read_text(encoding="utf-8"))


def test_every_catalog_shaped_block_is_a_marked_example():
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    catalogs = [b for b in blocks if re.search(r"^sources:", b, re.M)]
    assert len(examples()) >= 2 and len(catalogs) == len(examples())


@pytest.mark.slow
@pytest.mark.parametrize("fmt, text", examples(), ids=[fmt for fmt, _ in examples()])
def test_readme_catalog_runs_green(tmp_path, fmt, text):
    path = tmp_path / "catalog.yaml"
    path.write_text(text, encoding="utf-8")
    catalog = load_catalog(path)
    landing = tmp_path / "landing"
    for source in catalog.sources:
        assert source.format == fmt
        target = landing / source.name / HOUR_PATH
        target.mkdir(parents=True)
        for folder in RECORDS[fmt]:
            for record in sorted((FIXTURES / folder).glob("*.ndjson")):
                shutil.copy(record, target / f"{folder}-{record.name}")

    clickhouse = ClickHouseResource(url=f"chdb://{tmp_path / 'ch'}")
    env = materialize_hour(tmp_path, landing, KEY, clickhouse_url=clickhouse.url, METERING_CATALOG=str(path))

    # Green: every check passed but those the producers' broken records fail by design (and freshness).
    checks = check_outcomes(env)
    assert checks and unexpected_failures(checks) == []
    with clickhouse.get_client() as client:
        metered = {m for (m,) in client.query("SELECT DISTINCT meter FROM usage_hourly WHERE value > 0").result_rows}
        exported = client.command("SELECT count() FROM export_ledger")
    assert metered == {m.name for m in catalog.meters}  # every meter of the example meters something
    assert exported > 0
