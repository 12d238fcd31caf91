"""The late-file sensor and its check: rerun the hours whose landing files changed, report older ones.

Log shippers deliver late, so a file can land in an hour folder after that hour ran. Each
tick compares every hour of the lookback with the fingerprint its last `accepted_events`
materialization recorded (changes.py), and requests one `hourly_metering` run per changed
hour (ingest -> usage -> dbt -> export, which emits a correction revision). Only hours that
were materialized before are compared; a never-materialized hour belongs to the schedule or
a backfill. It reads the Dagster instance and lists the landing zone: no ClickHouse.

Hours older than the lookback are never rerun automatically (an old hour may already have
been invoiced). Each tick re-lists a slice of them (newest first, wrapping around), plus the
hours already found stale, so the whole history is covered at a bounded cost per tick.
Stale hours are reported as a failing check on the external `landing_zone` asset and sent
once per (hour, file set) to the alert webhook; an operator decides whether to reprocess
them. `landing_zone` is not materialized by Dagster, so `AssetSelection.all()` jobs
(hourly_metering) leave its check out; running the check from the UI sweeps every
materialized hour at once.
"""

import json
from dataclasses import dataclass, field
from datetime import timedelta

import dagster as dg

from metering_pipeline.alerts.webhook import AlertWebhook
from metering_pipeline.catalog import Catalog
from metering_pipeline.resources import CatalogResource, LandingZone
from metering_pipeline.schedules import hourly_job, utc_now
from metering_pipeline.sensors.changes import Change, find_changes, lookback_from_env, lookback_keys, materialized_partitions

TRIGGER_TAG = "metering/trigger"
FINGERPRINT_TAG = "metering/landing_fingerprint"
LANDING_ZONE = "landing_zone"
LATE_BEYOND_LOOKBACK = "no_late_files_beyond_lookback"

landing_zone = dg.AssetSpec(
    LANDING_ZONE,
    group_name="ingest",
    description="Log files as shippers deliver them: <landing>/<source>/YYYY/MM/DD/HH/*.ndjson[.gz] (external).",
)


@dataclass
class AuditState:
    before: str | None = None  # the sweep continues with hours older than this one
    stale: dict[str, str] = field(default_factory=dict)  # hour -> current digest
    alerted: dict[str, str] = field(default_factory=dict)
    started: bool = False

    @classmethod
    def from_cursor(cls, cursor: str | None) -> "AuditState":
        if not cursor:
            return cls()
        data = json.loads(cursor)
        return cls(data.get("before"), data.get("stale", {}), data.get("alerted", {}), True)

    def to_cursor(self) -> str:
        return json.dumps({"before": self.before, "stale": self.stale, "alerted": self.alerted}, sort_keys=True)


def evaluation(stale: dict[str, str], boundary: str | None, description: str) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey(LANDING_ZONE),
        check_name=LATE_BEYOND_LOOKBACK,
        passed=not stale,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata={"stale_hours": dg.MetadataValue.json(sorted(stale)), "lookback_starts_at": boundary or ""},
    )


def stale_text(key: str) -> str:
    return (
        f"Late files: the landing folder of hour {key} changed after it was processed, and the hour is older "
        "than the late-file lookback, so it was not rerun. Reprocess it (backfill that hour) if it should be billed."
    )


def audit_tick(
    instance, landing: LandingZone, catalog: Catalog, boundary: str | None, state: AuditState, per_tick: int, webhook: AlertWebhook
) -> tuple[AuditState, list[dg.AssetCheckEvaluation]]:
    """One slice of the sweep over hours strictly older than `boundary` (the oldest lookback hour)."""
    older = sorted((k for k in materialized_partitions(instance) if boundary is None or k < boundary), reverse=True)
    todo = [k for k in older if state.before is None or k < state.before][:per_tick]
    recheck = sorted(set(todo) | set(state.stale))
    changes, _ = find_changes(instance, landing, catalog, recheck)
    stale = {k: v for k, v in state.stale.items() if k not in recheck} | {c.key: c.current for c in changes}
    alerted = {k: v for k, v in state.alerted.items() if stale.get(k) == v}
    if webhook.configured:
        for key, digest in sorted(stale.items()):
            if alerted.get(key) != digest and webhook.send(stale_text(key)).ok:
                alerted[key] = digest
    new = AuditState(todo[-1] if len(todo) == per_tick else None, stale, alerted, True)
    events = []
    if stale != state.stale or not state.started:
        events.append(evaluation(stale, boundary, f"{len(stale)} hour(s) older than the lookback changed after processing"))
    return new, events


def audit_all(instance, landing: LandingZone, catalog: Catalog, boundary: str | None) -> list[Change]:
    """The whole sweep at once, for the on-demand check."""
    older = [k for k in materialized_partitions(instance) if boundary is None or k < boundary]
    return find_changes(instance, landing, catalog, older)[0]


def build_late_file_sensor(
    *,
    lookback: timedelta | None = None,
    audit_hours_per_tick: int = 24,
    minimum_interval_seconds: int = 300,
    clock=utc_now,
    name: str = "late_file_sensor",
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
) -> dg.SensorDefinition:
    lookback = lookback or lookback_from_env()

    @dg.sensor(
        name=name,
        job=hourly_job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=f"Reruns hours of the last {lookback} whose landing files changed after they were processed; "
        "reports older ones on landing_zone.",
    )
    def late_file_sensor(context: dg.SensorEvaluationContext, landing: LandingZone, catalog: CatalogResource, alert_webhook: AlertWebhook):
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
        state, events = audit_tick(
            context.instance,
            landing,
            loaded,
            keys[-1] if keys else None,
            AuditState.from_cursor(context.cursor),
            audit_hours_per_tick,
            alert_webhook,
        )
        return dg.SensorResult(run_requests=requests, asset_events=events, cursor=state.to_cursor())

    return late_file_sensor


def build_late_files_check(*, lookback: timedelta | None = None, clock=utc_now) -> dg.AssetChecksDefinition:
    lookback = lookback or lookback_from_env()

    @dg.asset_check(
        asset=LANDING_ZONE,
        name=LATE_BEYOND_LOOKBACK,
        description="No hour older than the late-file lookback has landing files that changed after it was processed",
    )
    def late_files_check(context: dg.AssetCheckExecutionContext, landing: LandingZone, catalog: CatalogResource):
        keys = lookback_keys(clock(), lookback)
        boundary = keys[-1] if keys else None
        stale = audit_all(context.instance, landing, catalog.load(), boundary)
        return dg.AssetCheckResult(
            passed=not stale,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"{len(stale)} hour(s) older than the lookback changed after processing",
            metadata={"stale_hours": dg.MetadataValue.json([c.key for c in stale]), "lookback_starts_at": boundary or ""},
        )

    return late_files_check
