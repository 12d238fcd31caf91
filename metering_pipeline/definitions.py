"""The one entry point: every asset, check, schedule, sensor and resource, with cross-cutting policy applied once.

Cross-cutting policy lives here and nowhere else: every ClickHouse step is in the
`clickhouse` pool (set on the assets, limited in dagster.yaml), freshness checks cover the
billing-relevant assets, and resources read their configuration from the environment.
"""

import dagster as dg

from metering_pipeline.alerts import alert_resources, check_quota_file, usage_alerts
from metering_pipeline.dbt import DBT_RESOURCE_KEY, build_dbt_assets, dbt_resource
from metering_pipeline.export import billing_export
from metering_pipeline.freshness import build_freshness
from metering_pipeline.ingest.assets import ingest
from metering_pipeline.resources import CatalogResource, ClickHouseResource, LandingZone
from metering_pipeline.resources.export_store import ExportStore
from metering_pipeline.schedules import hourly_job, hourly_schedule
from metering_pipeline.sensors import landing_zone, late_file_sensor, late_files_check
from metering_pipeline.settings import setting
from metering_pipeline.usage.assets import usage_hourly

FRESHNESS_GUARDED = ("usage_hourly", "billing_export")


def resources() -> dict:
    return {
        "clickhouse": ClickHouseResource(url=setting("METERING_CLICKHOUSE_URL"), database=setting("METERING_DATABASE")),
        "landing": LandingZone(url=setting("METERING_LANDING_URL")),
        "catalog": CatalogResource(path=setting("METERING_CATALOG")),
        "export_store": ExportStore(url=setting("METERING_EXPORT_URL")),
        DBT_RESOURCE_KEY: dbt_resource(setting("METERING_CLICKHOUSE_URL"), setting("METERING_DATABASE")),
        **alert_resources(),
    }


check_quota_file()
freshness = build_freshness(*FRESHNESS_GUARDED)

defs = dg.Definitions(
    assets=[landing_zone, ingest, usage_hourly, build_dbt_assets(), usage_alerts, billing_export],
    asset_checks=[late_files_check, *freshness.checks],
    jobs=[hourly_job, *freshness.jobs],
    schedules=[hourly_schedule, *freshness.schedules],
    sensors=[late_file_sensor],
    resources=resources(),
)
