"""The late-file sensor: rerun, through the whole graph, exactly the hours whose landing files changed.

Log shippers deliver late, so a file can land in an hour folder after that hour ran. Each
tick compares every hour of the lookback with the fingerprint its last `accepted_events`
materialization recorded, and requests one `hourly_metering` run per changed hour
(ingest -> usage -> dbt -> export, which emits a correction revision). Only hours that were
materialized before are compared; a never-materialized hour belongs to the schedule or a
backfill. It reads the Dagster instance and lists the landing zone: no ClickHouse.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from metering_pipeline.alerts.webhook import AlertWebhook
from metering_pipeline.resources import CatalogResource, LandingZone
from metering_pipeline.schedules import hourly_job
from metering_pipeline.sensors.audit import AuditState, audit_tick
from metering_pipeline.sensors.changes import find_changes
from metering_pipeline.sensors.window import lookback_from_env, lookback_keys

TRIGGER_TAG = "metering/trigger"
FINGERPRINT_TAG = "metering/landing_fingerprint"


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_late_file_sensor(*, lookback: timedelta | None = None, audit_hours_per_tick: int = 24,
                           minimum_interval_seconds: int = 300, clock=utc_now, name: str = "late_file_sensor",
                           default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED) -> dg.SensorDefinition:
    lookback = lookback or lookback_from_env()

    @dg.sensor(name=name, job=hourly_job, minimum_interval_seconds=minimum_interval_seconds,
               default_status=default_status,
               description=f"Reruns hours of the last {lookback} whose landing files changed after they were processed; "
                           "reports older ones on landing_zone.")
    def late_file_sensor(context: dg.SensorEvaluationContext, landing: LandingZone, catalog: CatalogResource,
                         alert_webhook: AlertWebhook):
        loaded = catalog.load()
        keys = lookback_keys(clock(), lookback)
        changes, blind = find_changes(context.instance, landing, loaded, keys)
        for key in blind:
            context.log.warning("hour %s was materialized without a landing fingerprint; cannot tell if files changed", key)
        for change in changes:
            context.log.info("hour %s: landing files changed (%s -> %s); requesting a rerun", change.key, change.recorded, change.current)
        requests = [
            dg.RunRequest(run_key=c.run_key, partition_key=c.key, tags={TRIGGER_TAG: "late_files", FINGERPRINT_TAG: c.current})
            for c in changes
        ]
        state, events = audit_tick(context.instance, landing, loaded, keys[-1] if keys else None,
                                   AuditState.from_cursor(context.cursor), audit_hours_per_tick, alert_webhook)
        return dg.SensorResult(run_requests=requests, asset_events=events, cursor=state.to_cursor())

    return late_file_sensor
