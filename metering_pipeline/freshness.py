"""Freshness, the heartbeat: the last complete hour of each watched asset is materialized within a delay.

Dagster's FreshnessPolicy (1.13) judges an asset by its latest materialization of any
partition, so a backfill of old hours would look fresh while the current hours are
missing; this check asks for the one partition that is due instead. It runs after each
materialization of the asset (the hourly job includes it) and from an hourly schedule, so
it also fails when nothing runs at all. A failure shows on the asset in the UI and is sent
once per missing hour to the alert webhook, if one is configured.
"""

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import dagster as dg

from metering_pipeline.alerts.webhook import AlertWebhook
from metering_pipeline.partitions import partition_key_for
from metering_pipeline.schedules import utc_now

DELAY_ENV = "METERING_FRESHNESS_DELAY_HOURS"
CHECK_NAME = "last_complete_hour_fresh"
FRESHNESS_JOB = "freshness_checks"


def delay_from_env() -> timedelta:
    hours = float(os.environ.get(DELAY_ENV) or 2)
    if hours < 0:
        raise ValueError(f"{DELAY_ENV} must be >= 0 hours")
    return timedelta(hours=hours)


def due_hour(now: datetime, delay: timedelta) -> str:
    """The newest hour H whose deadline (H + 1 hour + delay) has passed at `now`."""
    return partition_key_for((now - delay).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1))


def _last_evaluation(instance, check_key: dg.AssetCheckKey, page: int = 20) -> dg.AssetCheckEvaluation | None:
    """The newest completed evaluation of the check, skipping executions that are only planned (this
    run's own, concurrent runs', runs that died before the check) and have no evaluation yet."""
    cursor = None
    while True:
        records = instance.event_log_storage.get_asset_check_execution_history(check_key, limit=page, cursor=cursor)
        for record in records:
            event = record.event.dagster_event if record.event else None
            if event is not None and isinstance(event.event_specific_data, dg.AssetCheckEvaluation):
                return event.event_specific_data
        if len(records) < page:
            return None
        cursor = records[-1].id


def _already_alerted(instance, check_key: dg.AssetCheckKey, due: str) -> bool:
    """Did the last completed evaluation already alert for this same due hour? (This run's own is only planned.)"""
    evaluation = _last_evaluation(instance, check_key)
    metadata = evaluation.metadata if evaluation is not None and not evaluation.passed else {}
    due_value, alerted = metadata.get("due_hour"), metadata.get("alerted")
    return bool(due_value and due_value.value == due and alerted and alerted.value)


def _evaluate(context, webhook: AlertWebhook, asset_key: dg.AssetKey, due: str, delay: timedelta) -> dg.AssetCheckResult:
    records = context.instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[due]), limit=1).records
    passed = bool(records)
    check_key = dg.AssetCheckKey(asset_key, CHECK_NAME)
    alerted = not passed and _already_alerted(context.instance, check_key, due)
    if not passed and not alerted and webhook.configured:
        text = f"Freshness: {asset_key.to_user_string()} has not materialized hour {due} (UTC), due {delay} after the hour closed."
        alerted = webhook.send(text).ok
    metadata = {"due_hour": due, "delay_hours": delay.total_seconds() / 3600, "alerted": alerted}
    if records:
        metadata["materialized_at"] = dg.MetadataValue.timestamp(records[0].timestamp)
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=CHECK_NAME,
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
        description=f"hour {due} {'is' if passed else 'is NOT'} materialized ({delay} after the hour closed)",
    )


@dataclass
class Freshness:
    """What to add to Definitions: the checks, a job that runs only them, and its hourly schedule."""

    checks: list = field(default_factory=list)
    jobs: list = field(default_factory=list)
    schedules: list = field(default_factory=list)


def build_freshness(
    *assets: str, delay: timedelta | None = None, clock=utc_now, default_status: dg.DefaultScheduleStatus = dg.DefaultScheduleStatus.STOPPED
) -> Freshness:
    delay = delay if delay is not None else delay_from_env()
    keys = [dg.AssetKey(a) if isinstance(a, str) else a for a in assets]
    specs = [dg.AssetCheckSpec(CHECK_NAME, asset=key, description=f"The last complete hour is materialized within {delay}") for key in keys]

    @dg.multi_asset_check(specs=specs, can_subset=True, name="freshness")
    def freshness(context: dg.AssetCheckExecutionContext, alert_webhook: AlertWebhook):
        due = due_hour(clock(), delay)
        for check_key in context.selected_asset_check_keys:
            yield _evaluate(context, alert_webhook, check_key.asset_key, due, delay)

    job = dg.define_asset_job(FRESHNESS_JOB, selection=dg.AssetSelection.checks(freshness))
    minute = int(delay.total_seconds() // 60) % 60
    schedule = dg.ScheduleDefinition(
        name="freshness_schedule", job=job, cron_schedule=f"{minute} * * * *", execution_timezone="UTC", default_status=default_status
    )
    return Freshness([freshness], [job], [schedule])
