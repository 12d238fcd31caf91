"""The dbt assets as Dagster sees them: lineage to the pipeline, partitions, pool, checks. No engine."""

import dagster as dg
import pytest

from metering_pipeline.dbt.assets import build_dbt_assets
from metering_pipeline.dbt.prepare import ensure_manifest
from metering_pipeline.partitions import hourly_partitions

MARTS = {"usage_daily", "usage_monthly", "usage_by_service", "quarantine_summary", "tenant_usage_summary"}


@pytest.fixture(scope="module")
def assets_def() -> dg.AssetsDefinition:
    ensure_manifest()
    return build_dbt_assets()


def test_dbt_sources_are_the_pipeline_assets(assets_def):
    keys = {key.to_user_string() for key in assets_def.keys}
    assert MARTS <= keys
    external = {key.to_user_string() for key in assets_def.dependency_keys} - keys
    assert external == {"accepted_events", "quarantined_lines", "usage_hourly", "billing_export", "dropped_duplicates", "landed_files"}
    deps = {key.to_user_string(): {d.to_user_string() for d in ks} for key, ks in assets_def.asset_deps.items()}
    assert "quarantined_lines" in deps["stg_metering__quarantine"]
    assert "accepted_events" in deps["stg_metering__events"]


def test_partitioned_single_run_backfills_in_the_clickhouse_pool(assets_def):
    assert assets_def.partitions_def == hourly_partitions
    assert assets_def.backfill_policy == dg.BackfillPolicy.single_run()
    assert assets_def.op.pool == "clickhouse"
    assert {assets_def.group_names_by_key[key] for key in assets_def.keys} == {"analytics"}
    assert {"dbt", "catalog"} <= assets_def.required_resource_keys


def test_dbt_tests_are_asset_checks(assets_def):
    checks = {(c.asset_key.to_user_string(), c.name) for c in assets_def.check_keys}
    assert ("usage_daily", "assert_usage_daily_additive_matches_hourly") in checks
    assert ("usage_monthly", "assert_usage_monthly_additive_matches_hourly") in checks
    assert any(mart == "usage_daily" and name.startswith("unique_combination_of_columns") for mart, name in checks)


def test_definitions_load_with_the_dbt_assets(assets_def):
    from metering_pipeline.dbt.resources import dbt_resource
    from metering_pipeline.resources import CatalogResource

    defs = dg.Definitions(
        assets=[assets_def],
        resources={"dbt": dbt_resource("chdb:///tmp/never-opened", "metering"), "catalog": CatalogResource()},
    )
    defs.resolve_all_job_defs()
