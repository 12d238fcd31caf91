"""The dbt marts as Dagster assets, hourly-partitioned like the pipeline.

Nothing here runs dbt at import: `build_dbt_assets()` needs project/target/manifest.json,
which `python -m metering_pipeline.dbt.prepare` writes on a checkout (and `dagster dev` on a
checkout refreshes through `DbtProject.prepare_if_dev()`); an installed package uses the
manifest its wheel was built with and never parses.
"""

import json
import os
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from metering_pipeline.dbt.resources import (
    DBT_PROJECT_DIR,
    clickhouse_url_from_env,
    database_from_env,
    dbt_env,
    ensure_adapter_importable,
    patched_environ,
)
from metering_pipeline.dbt.vars import dbt_vars
from metering_pipeline.partitions import run_partition_keys
from metering_pipeline.resources import CatalogResource
from metering_pipeline.schedules import ASSET_POLICY
from metering_pipeline.settings import CHECKOUT_ROOT

DBT_GROUP = "analytics"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class ManifestMissingError(RuntimeError):
    """project/target/manifest.json is missing: run `python -m metering_pipeline.dbt.prepare` (a checkout) or rebuild the wheel."""


class MeteringDbtTranslator(DagsterDbtTranslator):
    """dbt models in the `analytics` group; sources map to the pipeline's assets via `meta.dagster.asset_key`."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return DBT_GROUP


def prepare_if_dev() -> None:
    """`dagster dev` on a checkout only: re-parse the project.

    An installed package keeps the manifest it was built with: its project may be read-only,
    and a parse there would write into site-packages.
    dagster-dbt's preparer runs a plain DbtCliResource: give it this environment's `dbt` on
    PATH and the adapter plugin (in-process too, it builds an adapter handle).
    """
    if CHECKOUT_ROOT is None:
        return
    ensure_adapter_importable()
    env = dbt_env(clickhouse_url_from_env(), database_from_env())
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    with patched_environ(env):
        dbt_project.prepare_if_dev()


@cache
def build_dbt_assets() -> dg.AssetsDefinition:
    """The dbt models as one multi-asset; dbt tests become asset checks.

    Each run builds the models for the partition (range) window: `--vars` min_hour /
    max_hour plus the meters of the run's catalog (resource "catalog", the same one
    usage_hourly reads). A backfill is a single dbt run over its range.
    """
    prepare_if_dev()
    manifest_path = Path(dbt_project.manifest_path)
    if not manifest_path.exists():
        raise ManifestMissingError(
            f"{manifest_path} is missing; run `python -m metering_pipeline.dbt.prepare` first"
            " (on a checkout), or build the wheel from a prepared checkout (`make dist`)"
        )

    @dbt_assets(
        manifest=manifest_path,
        project=dbt_project,
        # usage_hourly's step also writes usage_quarter_hourly and tenant_periods: three dbt sources, one asset.
        dagster_dbt_translator=MeteringDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_duplicate_source_asset_keys=True)),
        **ASSET_POLICY,  # hourly partitions, single-run backfills, the clickhouse pool: the house rule, defined once
        name="metering_dbt_models",
    )
    def metering_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, catalog: CatalogResource):
        run_partition_keys(context)  # refuses a non-canonical key before its window is derived from it
        window = context.partition_time_window
        run_vars = dbt_vars(window.start, window.end, catalog.load())
        context.log.info(f"dbt window [{run_vars['min_hour']}, {run_vars['max_hour']})")
        yield from dbt.cli(["build", "--vars", json.dumps(run_vars)], context=context).stream()

    return metering_dbt_models
