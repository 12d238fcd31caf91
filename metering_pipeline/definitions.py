"""The one entry point: every asset, check, schedule and resource, with cross-cutting policy applied once."""

import dagster as dg

from metering_pipeline.dbt import DBT_RESOURCE_KEY, build_dbt_assets, dbt_resource
from metering_pipeline.export import billing_export
from metering_pipeline.ingest.assets import ingest
from metering_pipeline.resources import CatalogResource, ClickHouseResource, LandingZone
from metering_pipeline.resources.export_store import ExportStore
from metering_pipeline.schedules import hourly_job, hourly_schedule
from metering_pipeline.settings import setting
from metering_pipeline.usage.assets import usage_hourly


def resources() -> dict:
    return {
        "clickhouse": ClickHouseResource(url=setting("METERING_CLICKHOUSE_URL"), database=setting("METERING_DATABASE")),
        "landing": LandingZone(url=setting("METERING_LANDING_URL")),
        "catalog": CatalogResource(path=setting("METERING_CATALOG")),
        "export_store": ExportStore(url=setting("METERING_EXPORT_URL")),
        DBT_RESOURCE_KEY: dbt_resource(setting("METERING_CLICKHOUSE_URL"), setting("METERING_DATABASE")),
    }


defs = dg.Definitions(
    assets=[ingest, usage_hourly, build_dbt_assets(), billing_export],
    jobs=[hourly_job],
    schedules=[hourly_schedule],
    resources=resources(),
)
