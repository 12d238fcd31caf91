"""The README's tables are complete: every asset, asset check, table and setting the code has is named.

The lists come from the code, not from a copy: the assets and checks from `definitions.defs`,
the tables from a warehouse after one real hour through the whole graph, the settings from every
`METERING_*` name the package reads. A name the README misses fails here.
"""

import re
from pathlib import Path

import dagster as dg
import pytest

from metering_pipeline.alerts import AlertWebhook, QuotasResource
from metering_pipeline.dbt.paths import DBT_PROJECT_DIR
from metering_pipeline.dbt.prepare import ensure_manifest
from metering_pipeline.dbt.resources import dbt_resource
from metering_pipeline.definitions import defs
from metering_pipeline.observability import Pushgateway
from metering_pipeline.partitions import hour_start
from metering_pipeline.resources import CatalogResource, ClickHouseResource, LandingZone
from metering_pipeline.resources.export_store import ExportStore
from metering_pipeline.samples import write_sample_hour

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
KEY = "2026-11-22-10:00"
# Set by the pipeline itself for the dbt subprocess, never by a user.
INTERNAL_SETTINGS = {"METERING_CLICKHOUSE_PASSWORD"}


def _named(name: str) -> bool:
    return f"`{name}`" in README


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else None]


def test_every_asset_is_in_the_assets_table():
    keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    section = _section("Dagster assets")
    assert keys and sorted(k for k in keys if f"`{k}`" not in section) == []


def test_every_pipeline_check_is_named():
    """dbt's tests are checks too; the README points at the dbt project for those."""
    checks = set()
    for item in [*defs.assets, *(defs.asset_checks or [])]:
        if isinstance(item, dg.AssetsDefinition) and set(item.group_names_by_key.values()) == {"analytics"}:
            continue  # the dbt models
        checks |= {key.name for key in getattr(item, "check_keys", ())}
    section = _section("Dagster assets")
    assert checks and sorted(c for c in checks if f"`{c}`" not in section) == []


def test_every_setting_is_in_the_configuration_table():
    read = set()
    for path in [*(ROOT / "metering_pipeline").rglob("*.py"), *DBT_PROJECT_DIR.rglob("*.yml")]:
        if path.is_file() and "target" not in path.parts:
            read |= set(re.findall(r"\bMETERING_[A-Z_]+\b", path.read_text(encoding="utf-8")))
    section = _section("Configuration")
    missing = sorted(name for name in read - INTERNAL_SETTINGS if f"`{name}`" not in section)
    assert read and missing == []


@pytest.mark.slow
def test_every_table_a_run_creates_is_in_the_tables_table(tmp_path):
    write_sample_hour(tmp_path / "landing", hour_start(KEY), events=30)
    ensure_manifest()
    clickhouse = ClickHouseResource(url=f"chdb://{tmp_path / 'ch'}", lock_timeout_seconds=60)
    resources = {
        "clickhouse": clickhouse,
        "landing": LandingZone(url=str(tmp_path / "landing")),
        "catalog": CatalogResource(),
        "export_store": ExportStore(url=str(tmp_path / "export")),
        "dbt": dbt_resource(clickhouse.url, clickhouse.database),
        "quotas": QuotasResource(),
        "alert_webhook": AlertWebhook(url=""),
        "pushgateway": Pushgateway(),
    }
    executable = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and a.is_executable]
    assert dg.materialize(executable, partition_key=KEY, resources=resources).success
    with clickhouse.get_client() as client:
        tables = {
            t
            for (t,) in client.query(
                "SELECT name FROM system.tables WHERE database = {db:String} AND NOT startsWith(name, '_stage_')",
                parameters={"db": clickhouse.database},
            ).result_rows
        }
    section = _section("Tables (ClickHouse, database `metering`)")
    assert {"events", "quarantine", "usage_hourly"} <= tables
    assert sorted(t for t in tables if f"`{t}`" not in section) == []
