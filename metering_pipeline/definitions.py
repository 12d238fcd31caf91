"""The one entry point: every asset, check, schedule, sensor and resource, with cross-cutting policy enforced once.

Cross-cutting policy is defined in one place and enforced here: every asset step is
hourly-partitioned, backfills as one run and is in the `clickhouse` pool (schedules.ASSET_POLICY,
limited in dagster.yaml; `with_policy` refuses an asset without it, so a new module cannot
forget it), a run's steps share the run's process (`EXECUTOR`), freshness checks cover the
billing-relevant assets, and resources read their configuration from the environment. Each
module registers only what it owns.
"""

import dagster as dg

from metering_pipeline.alerts import alert_resources, check_quota_file, usage_alerts
from metering_pipeline.dbt.assets import build_dbt_assets
from metering_pipeline.dbt.resources import DBT_RESOURCE_KEY, dbt_resource
from metering_pipeline.export.assets import BILLING_EXPORT, billing_export
from metering_pipeline.freshness import build_freshness
from metering_pipeline.ingest.assets import ingest
from metering_pipeline.observability import pipeline_runs, pushgateway, record_failed_run
from metering_pipeline.resources import CatalogResource, ClickHouseResource, LandingZone
from metering_pipeline.resources.export_store import ExportStore
from metering_pipeline.schedules import ASSET_POLICY, hourly_job, hourly_schedule
from metering_pipeline.sensors import landing_zone, late_file_sensor, late_files_check
from metering_pipeline.settings import setting
from metering_pipeline.usage.assets import usage_hourly
from metering_pipeline.warehouse.tables import USAGE_HOURLY

FRESHNESS_GUARDED = (USAGE_HOURLY, BILLING_EXPORT)


def with_policy(assets: list) -> list:
    """The assets, if each carries ASSET_POLICY (external asset specs have no steps and are left as they are)."""
    for asset in assets:
        if not isinstance(asset, dg.AssetsDefinition):
            continue
        found = {"partitions_def": asset.partitions_def, "backfill_policy": asset.backfill_policy, "pool": asset.op.pool}
        wrong = sorted(name for name, value in ASSET_POLICY.items() if found[name] != value)
        if wrong:
            names = ", ".join(key.to_user_string() for key in asset.keys)
            raise dg.DagsterInvalidDefinitionError(f"{names}: {', '.join(wrong)} differ from schedules.ASSET_POLICY")
    return assets


def in_process_by_default(executor: dg.ExecutorDefinition) -> dg.ExecutorDefinition:
    """Dagster's default executor, with every step in the run's own process unless the run's config
    asks for `execution: config: multiprocess:`.

    Dagster's default starts a process per step, and each imports these definitions (dagster,
    dagster-dbt, pandas: about 5 s here). A run's steps are a chain (ingest -> usage -> export,
    dbt, alerts) whose ClickHouse work the `clickhouse` pool serializes on chDB anyway, so those
    processes bought nothing: one hour through `dagster asset materialize`, seven steps, took
    50 s with a process per step and 20 s in one process. Parallelism comes from runs, not
    steps: a multi-run backfill on a server runs as many hours at once as the pool allows. A
    step's ClickHouse client is closed when the step ends, so dbt's subprocess finds the chDB
    directory free, as it does under `execute_in_process` (make demo, the bench backfill)."""
    return dg.ExecutorDefinition(
        name=executor.name,
        config_schema=dg.Field(executor.config_schema.config_type, default_value={"in_process": {}}),
        requirements=executor.get_requirements,
        executor_creation_fn=executor.executor_creation_fn,
        description="Every step in the run's process unless the run's config selects multiprocess (definitions.py).",
    )


EXECUTOR = in_process_by_default(dg.multi_or_in_process_executor)


def resources() -> dict:
    return {
        "clickhouse": ClickHouseResource(
            url=setting("METERING_CLICKHOUSE_URL"),
            database=setting("METERING_DATABASE"),
            cluster=setting("METERING_CLICKHOUSE_CLUSTER"),
            s3_collection=setting("METERING_CLICKHOUSE_S3_COLLECTION"),
        ),
        "landing": LandingZone(url=setting("METERING_LANDING_URL"), reader=setting("METERING_INGEST_READER")),
        "catalog": CatalogResource(path=setting("METERING_CATALOG")),
        "export_store": ExportStore(url=setting("METERING_EXPORT_URL"), grain=setting("METERING_EXPORT_GRAIN")),
        DBT_RESOURCE_KEY: dbt_resource(setting("METERING_CLICKHOUSE_URL"), setting("METERING_DATABASE")),
        **alert_resources(),
        "pushgateway": pushgateway(),
    }


check_quota_file()
freshness = build_freshness(*FRESHNESS_GUARDED)

defs = dg.Definitions(
    assets=with_policy([landing_zone, ingest, usage_hourly, build_dbt_assets(), usage_alerts, billing_export, pipeline_runs]),
    asset_checks=[late_files_check, *freshness.checks],
    jobs=[hourly_job, *freshness.jobs],
    schedules=[hourly_schedule, *freshness.schedules],
    sensors=[late_file_sensor, record_failed_run],
    resources=resources(),
    executor=EXECUTOR,
)
