"""The one entry point: every asset, check, schedule, sensor and resource, with cross-cutting policy enforced once.

Cross-cutting policy is defined in one place and enforced here: every asset step is
hourly-partitioned, backfills as one run and is in the `clickhouse` pool (schedules.ASSET_POLICY,
limited in dagster.yaml; `with_policy` refuses an asset without it, so a new module cannot
forget it), a run's step processes are forked from one import of the definitions (`EXECUTOR`),
freshness checks cover the billing-relevant assets, and resources read their configuration from
the environment. Each module registers only what it owns.
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


def forked_steps_by_default() -> dg.ExecutorDefinition:
    """Dagster's default executor, a process per step, with the step processes forked from a server
    that imports these definitions once per run (`start_method: forkserver`, preloading this
    module by name: left to Dagster, a `dagster asset materialize` run's server preloaded only
    dagster, 41 s) instead of each step's process importing them again.

    One import of the definitions (dagster, dagster-dbt, pandas) takes about 5 s here, and an hour's
    run has seven steps: through `dagster asset materialize` it took 50 s with spawned step
    processes, 31 s with forked ones and 20 s with every step in the run's own process. The steps
    keep their own processes because a step that dies (the OOM killer, a crash in the embedded
    engine) then fails as a step: the run is recorded as failed, the failure sensor alerts and
    the run's `clickhouse` pool slot is freed. A dead run worker would instead hang as started
    under the embedded setup's run launcher, which cannot check its workers' health. A run's
    config can still choose `in_process` or another start method."""
    dagster_default = dg.multi_or_in_process_executor
    return dg.ExecutorDefinition(
        name=dagster_default.name,
        config_schema=dg.Field(
            dagster_default.config_schema.config_type,
            default_value={"multiprocess": {"start_method": {"forkserver": {"preload_modules": [__name__]}}}},
        ),
        requirements=dagster_default.get_requirements,
        executor_creation_fn=dagster_default.executor_creation_fn,
        description="A process per step, forked from one import of the definitions per run (definitions.py).",
    )


EXECUTOR = forked_steps_by_default()


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
