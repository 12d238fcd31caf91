"""`pipeline_runs`: one row per (run, asset step) with its hours, times, outcome and figures.

Prometheus forgets and a Pushgateway only holds the last push; billing audits do not. The
history is append-only (a rerun is another row, never a replacement) and is what the pushed
counters are summed from, so a counter rises by exactly the work each run did and never
resets when the gateway restarts. A step's row is written once: a retried observer step finds
the row of its run and writes nothing, and the failure sensor (failures.py) adds only the steps
of a failed run that no observer recorded. A failed step is a row with outcome `failure` and its
error's class: billing audits need the attempts that did not bill, too.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from metering_pipeline.observability.metrics import COUNTER, GAUGE, METRICS, Sample
from metering_pipeline.warehouse.tables import create_table
from metering_pipeline.warehouse.topology import cluster_of, on_cluster

PIPELINE_RUNS = "pipeline_runs"
EXPORT_ASSET = "billing_export"

_COLUMNS = """
    run_id String,
    asset LowCardinality(String),
    first_hour DateTime('UTC') COMMENT 'First hour (partition) the step materialized',
    last_hour DateTime('UTC'),
    hours UInt32 COMMENT 'Hours in the step (1, or more in a single-run backfill)',
    started DateTime64(3, 'UTC'),
    finished DateTime64(3, 'UTC'),
    outcome LowCardinality(String) COMMENT 'success | checks_failed | failure',
    failed_checks Array(String),
    figures Nested(metric LowCardinality(String), labels String, value Decimal(38, 9)),
    recorded_at DateTime64(3, 'UTC'),
    error LowCardinality(String) COMMENT 'failure: the class of the error that failed the step (interrupted: it never ended)'
"""
FAILURE = "failure"


@dataclass(frozen=True)
class StepRecord:
    run_id: str
    asset: str
    first_hour: datetime
    last_hour: datetime
    hours: int
    started: datetime
    finished: datetime
    failed_checks: tuple[str, ...]
    samples: tuple[Sample, ...]
    error: str = ""

    @property
    def outcome(self) -> str:
        if self.error:
            return FAILURE
        return "checks_failed" if self.failed_checks else "success"


def ensure_history(client) -> None:
    create_table(client, PIPELINE_RUNS, _COLUMNS, "MergeTree PARTITION BY toYYYYMM(finished) ORDER BY (asset, finished, run_id)")
    # A history written before failures were recorded gains the column (empty for its rows).
    missing = client.command(
        "SELECT count() = 0 FROM system.columns WHERE database = currentDatabase() AND table = {t:String} AND name = 'error'",
        parameters={"t": PIPELINE_RUNS},
    )
    if missing:
        cluster = on_cluster(cluster_of(client))
        client.command(f"ALTER TABLE `{PIPELINE_RUNS}`{cluster} ADD COLUMN IF NOT EXISTS error LowCardinality(String)")


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def record_steps(client, steps: Sequence[StepRecord], now: datetime) -> int:
    """Insert the steps not recorded yet (by run id and asset); the number inserted."""
    ensure_history(client)
    if not steps:
        return 0
    seen = {
        (run, asset)
        for run, asset in client.query(
            f"SELECT DISTINCT run_id, asset FROM `{PIPELINE_RUNS}` WHERE run_id IN {{runs:Array(String)}}",
            parameters={"runs": sorted({s.run_id for s in steps})},
        ).result_rows
    }
    rows = [
        [
            s.run_id,
            s.asset,
            _naive(s.first_hour),
            _naive(s.last_hour),
            s.hours,
            _naive(s.started),
            _naive(s.finished),
            s.outcome,
            list(s.failed_checks),
            [x.metric for x in s.samples],
            [x.labels_json for x in s.samples],
            [x.value for x in s.samples],
            _naive(now),
            s.error,
        ]
        for s in steps
        if (s.run_id, s.asset) not in seen
    ]
    if rows:
        columns = ["run_id", "asset", "first_hour", "last_hour", "hours", "started", "finished", "outcome", "failed_checks"]
        columns += ["figures.metric", "figures.labels", "figures.value", "recorded_at", "error"]
        client.insert(PIPELINE_RUNS, rows, column_names=columns)
    return len(rows)


def _labels(text: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(json.loads(text).items()))


def _current(found: list[Sample]) -> list[Sample]:
    """The samples whose labels are their metric's labels today: figures recorded under another label
    set (before `source` labelled the line counters) stay in the history and are not pushed."""
    return [s for s in found if tuple(sorted(k for k, _ in s.labels)) == tuple(sorted(METRICS[s.metric].labels))]


def current_samples(client) -> list[Sample]:
    """What the gateway should hold now: counters summed over the whole history, each asset's gauges
    from its newest row, the pipeline gauges (last success, duration per hour, last complete hour, from
    the steps that did not fail) and the failed hours per asset (zero until one fails, so the first
    failure is an increase)."""
    ensure_history(client)
    counters = [name for name, m in METRICS.items() if m.kind == COUNTER]
    gauges = [name for name, m in METRICS.items() if m.kind == GAUGE]
    found = [
        Sample(metric, _labels(labels), value)
        for metric, labels, value in client.query(
            f"SELECT f.metric, f.labels, sum(f.value) FROM `{PIPELINE_RUNS}` ARRAY JOIN figures AS f "
            "WHERE f.metric IN {counters:Array(String)} GROUP BY f.metric, f.labels ORDER BY f.metric, f.labels",
            parameters={"counters": counters},
        ).result_rows
    ]
    found += [
        Sample(metric, _labels(labels), value)
        for metric, labels, value in client.query(
            f"SELECT f.metric, f.labels, argMax(f.value, (finished, recorded_at)) FROM `{PIPELINE_RUNS}` ARRAY JOIN figures AS f "
            "WHERE f.metric IN {gauges:Array(String)} GROUP BY f.metric, f.labels ORDER BY f.metric, f.labels",
            parameters={"gauges": gauges},
        ).result_rows
    ]
    found = _current(found)
    for asset, finished, seconds_per_hour in client.query(
        "SELECT asset, max(finished), argMax((toUnixTimestamp64Milli(finished) - toUnixTimestamp64Milli(started)) / 1000 / hours, "
        f"finished) FROM `{PIPELINE_RUNS}` WHERE outcome != {{failure:String}} GROUP BY asset ORDER BY asset",
        parameters={"failure": FAILURE},
    ).result_rows:
        found.append(Sample("metering_last_success_timestamp_seconds", (("asset", asset),), _epoch(finished)))
        found.append(Sample("metering_hour_duration_seconds", (("asset", asset),), Decimal(str(round(seconds_per_hour, 3)))))
    for asset, hours in client.query(
        f"SELECT asset, sumIf(hours, outcome = {{failure:String}}) FROM `{PIPELINE_RUNS}` GROUP BY asset ORDER BY asset",
        parameters={"failure": FAILURE},
    ).result_rows:
        found.append(Sample("metering_hour_failures_total", (("asset", asset),), Decimal(int(hours))))
    exported = client.query(
        f"SELECT count(), max(last_hour) FROM `{PIPELINE_RUNS}` WHERE asset = {{asset:String}} AND outcome != {{failure:String}}",
        parameters={"asset": EXPORT_ASSET, "failure": FAILURE},
    ).result_rows[0]
    if exported[0]:
        found.append(Sample("metering_last_complete_hour_timestamp_seconds", (), _epoch(exported[1])))
    return found


def _epoch(moment: datetime) -> Decimal:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return Decimal(str(round(aware.timestamp(), 3)))
