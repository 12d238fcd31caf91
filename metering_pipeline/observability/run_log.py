"""What the run's own event log says each observed asset step did: its hours, times, metadata, checks,
and, for a step that failed, the error's class.

Read from Dagster's event log, not recomputed: the figures recorded and pushed are the ones the
step's materialization carries, so Prometheus, `pipeline_runs` and the Dagster UI agree by
construction. A single-run backfill records one materialization per hour with the step's
metadata; they are one step here, so its figures count once. A failed step materialized nothing:
its hours are the ones the run planned for it (`ASSET_MATERIALIZATION_PLANNED`, logged when the
run is created, so they exist even when the run's process died).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg

from metering_pipeline.partitions import hour_start

INTERRUPTED = "interrupted"  # the step started and never ended: the run's process died or the run was canceled


@dataclass
class ObservedStep:
    asset: str
    step_key: str
    partitions: set[str] = field(default_factory=set)
    metadata: dict = field(default_factory=dict)
    failed_checks: set[str] = field(default_factory=set)
    started: datetime | None = None
    finished: datetime | None = None
    error: str = ""  # the class of the error that failed the step; empty when it succeeded

    @property
    def hours(self) -> list[datetime]:
        return sorted(hour_start(p) for p in self.partitions)


def _plain(value):
    return value.value if isinstance(value, dg.MetadataValue) else value


def error_class(error) -> str:
    """The class of the error the step's code raised, under Dagster's wrapping errors."""
    while error is not None and error.cause is not None and error.cls_name.startswith("Dagster"):
        error = error.cause
    return error.cls_name if error is not None else "unknown"


def _planned_partitions(data) -> set[str]:
    if data.partition:
        return {data.partition}
    return set(data.partitions_subset.get_partition_keys()) if data.partitions_subset is not None else set()


def observed_steps(entries: Iterable[dg.EventLogEntry], assets: Iterable[str], other_failures: bool = False) -> dict[str, ObservedStep]:
    """{asset: step} for each of `assets` materialized, or planned and failed, in the entries' run.

    With `other_failures`, a failed step that materializes none of `assets` (the dbt models, the
    observer itself) is returned too, once, under its step key."""
    wanted = set(assets)
    steps: dict[str, ObservedStep] = {}
    times: dict[str, dict[str, datetime]] = {}
    errors: dict[str, str] = {}
    planned: dict[str, dict[str, set[str]]] = {}  # step key -> {asset: partitions}
    checks: list = []
    for entry in entries:
        moment = datetime.fromtimestamp(entry.timestamp, UTC)
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            times.setdefault(entry.step_key, {})["started"] = moment
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            times.setdefault(entry.step_key, {})["finished"] = moment
            if event.event_type == dg.DagsterEventType.STEP_FAILURE:
                errors[entry.step_key] = error_class(event.event_specific_data.error)
        elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED:
            data = event.event_specific_data
            planned.setdefault(entry.step_key, {}).setdefault(data.asset_key.to_user_string(), set()).update(_planned_partitions(data))
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
    for step_key, when in times.items():
        if step_key not in errors and "finished" not in when:
            errors[step_key] = INTERRUPTED
    for step_key, error in errors.items():
        mine = {a: p for a, p in planned.get(step_key, {}).items() if a in wanted}
        if not mine and other_failures:
            mine = {step_key: set().union(*planned.get(step_key, {}).values())}
        for name, partitions in mine.items():
            step = steps.setdefault(name, ObservedStep(name, step_key))
            step.partitions |= partitions
            step.error = error
    for step_key, evaluation in checks:
        step = steps.get(evaluation.asset_key.to_user_string())
        # The step's own checks: a separate check step (freshness, judged on the wall clock) is not the step's outcome.
        if step and step.step_key == step_key and not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            step.failed_checks.add(evaluation.check_name)
    for step in steps.values():
        step.started = times.get(step.step_key, {}).get("started")
        step.finished = times.get(step.step_key, {}).get("finished")
    return steps
