"""What the run's own event log says each observed asset step did: its hours, times, metadata and checks.

Read from Dagster's event log, not recomputed: the figures recorded and pushed are the ones the
step's materialization carries, so Prometheus, `pipeline_runs` and the Dagster UI agree by
construction. A single-run backfill records one materialization per hour with the step's
metadata; they are one step here, so its figures count once.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg

from metering_pipeline.partitions import hour_start


@dataclass
class ObservedStep:
    asset: str
    step_key: str
    partitions: set[str] = field(default_factory=set)
    metadata: dict = field(default_factory=dict)
    failed_checks: set[str] = field(default_factory=set)
    started: datetime | None = None
    finished: datetime | None = None

    @property
    def hours(self) -> list[datetime]:
        return sorted(hour_start(p) for p in self.partitions)


def _plain(value):
    return value.value if isinstance(value, dg.MetadataValue) else value


def observed_steps(entries: Iterable[dg.EventLogEntry], assets: Iterable[str]) -> dict[str, ObservedStep]:
    """{asset: step} for each of `assets` materialized in the entries' run."""
    wanted = set(assets)
    steps: dict[str, ObservedStep] = {}
    times: dict[str, dict[str, datetime]] = {}
    checks: list = []
    for entry in entries:
        moment = datetime.fromtimestamp(entry.timestamp, UTC)
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            times.setdefault(entry.step_key, {})["started"] = moment
        elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
            times.setdefault(entry.step_key, {})["finished"] = moment
        elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = entry.asset_materialization
            name = materialization.asset_key.to_user_string()
            if name in wanted:
                step = steps.setdefault(name, ObservedStep(name, entry.step_key))
                if materialization.partition:
                    step.partitions.add(materialization.partition)
                step.metadata = {k: _plain(v) for k, v in materialization.metadata.items()}
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            checks.append((entry.step_key, event.event_specific_data))
    for step_key, evaluation in checks:
        step = steps.get(evaluation.asset_key.to_user_string())
        # The step's own checks: a separate check step (freshness, judged on the wall clock) is not the step's outcome.
        if step and step.step_key == step_key and not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            step.failed_checks.add(evaluation.check_name)
    for step in steps.values():
        step.started = times.get(step.step_key, {}).get("started")
        step.finished = times.get(step.step_key, {}).get("finished")
    return steps
