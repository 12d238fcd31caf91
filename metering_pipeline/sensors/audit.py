"""Late files beyond the lookback: found by a slow sweep, reported, never rerun automatically.

Each sensor tick re-lists a slice of the materialized hours older than the lookback (newest
first, wrapping around), plus the hours already found stale, so the whole history is
covered at a bounded cost per tick. Stale hours are reported as a failing check on
`landing_zone` and sent once per (hour, file set) to the alert webhook; an operator
decides whether to reprocess them (an old hour may already have been invoiced).
"""

import json
from dataclasses import dataclass, field

import dagster as dg

from metering_pipeline.alerts.webhook import AlertWebhook
from metering_pipeline.catalog import Catalog
from metering_pipeline.resources.landing import LandingZone
from metering_pipeline.sensors.changes import Change, find_changes
from metering_pipeline.sensors.recorded import materialized_partitions

LANDING_ZONE = "landing_zone"
LATE_BEYOND_LOOKBACK = "no_late_files_beyond_lookback"


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
    return (f"Late files: the landing folder of hour {key} changed after it was processed, and the hour is older "
            "than the late-file lookback, so it was not rerun. Reprocess it (backfill that hour) if it should be billed.")


def audit_tick(instance, landing: LandingZone, catalog: Catalog, boundary: str | None, state: AuditState,
               per_tick: int, webhook: AlertWebhook) -> tuple[AuditState, list[dg.AssetCheckEvaluation]]:
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
