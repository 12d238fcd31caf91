"""Run hours through the real assets with the operating pieces (alerts, sensor, freshness) wired as definitions.py will."""

from pathlib import Path

import dagster as dg
import yaml

from metering_pipeline.alerts import AlertWebhook, QuotasResource, usage_alerts
from metering_pipeline.ingest.assets import ingest
from metering_pipeline.resources import CatalogResource
from metering_pipeline.schedules import hourly_job
from metering_pipeline.usage.assets import usage_hourly

PIPELINE = (ingest, usage_hourly, usage_alerts)


def write_quotas(path: Path, quotas: list[dict]) -> str:
    path.write_text(yaml.safe_dump({"quotas": quotas}), encoding="utf-8")
    return str(path)


def resources(clickhouse, landing, quotas: str = "", webhook_url: str = "", backoff: float = 0.01) -> dict:
    return {
        "clickhouse": clickhouse,
        "landing": landing,
        "catalog": CatalogResource(),
        "quotas": QuotasResource(path=quotas),
        "alert_webhook": AlertWebhook(url=webhook_url, backoff_seconds=backoff, timeout_seconds=2),
    }


def materialize(res: dict, keys: list[str], instance=None, assets=PIPELINE) -> dg.ExecuteInProcessResult:
    """One run over `keys`: a single partition, or a range as a single-run backfill launches it."""
    tags = {} if len(keys) == 1 else {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}
    result = dg.materialize(list(assets), partition_key=keys[0] if len(keys) == 1 else None, tags=tags, resources=res, instance=instance)
    assert result.success
    return result


def definitions(res: dict, assets=PIPELINE, **extra) -> dg.Definitions:
    return dg.Definitions(assets=list(assets) + list(extra.pop("more_assets", [])), jobs=[hourly_job], resources=res, **extra)


def check_results(result: dg.ExecuteInProcessResult) -> dict:
    """{check name: evaluation} of a run."""
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def tick(sensor, instance, res: dict, cursor: str | None = None, assets=PIPELINE):
    """One sensor evaluation, as the daemon would run it within the code location."""
    defs = dg.Definitions(assets=list(assets), jobs=[hourly_job], sensors=[sensor], resources=res)
    context = dg.build_sensor_context(instance=instance, resources=res, cursor=cursor, definitions=defs)
    return sensor.evaluate_tick(context)
