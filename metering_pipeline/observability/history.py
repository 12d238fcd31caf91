"""`pipeline_runs`: one row per (run, asset step) with its hours, times, outcome and figures.

Prometheus forgets and a Pushgateway only holds the last push; billing audits do not. The
history is append-only (a rerun is another row, never a replacement) and is what the pushed
counters are summed from, so a counter rises by exactly the work each run did and never
resets when the gateway restarts. A step's row is written once: a retried observer step finds
the row of its run and writes nothing.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from metering_pipeline.observability.metrics import COUNTER, GAUGE, METRICS, Sample
from metering_pipeline.warehouse.tables import create_table

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
    outcome LowCardinality(String) COMMENT 'success | checks_failed',
    failed_checks Array(String),
    figures Nested(metric LowCardinality(String), labels String, value Decimal(38, 9)),
    recorded_at DateTime64(3, 'UTC')
"""


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

    @property
    def outcome(self) -> str:
        return "checks_failed" if self.failed_checks else "success"


def ensure_history(client) -> None:
    create_table(client, PIPELINE_RUNS, _COLUMNS, "MergeTree PARTITION BY toYYYYMM(finished) ORDER BY (asset, finished, run_id)")


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
        ]
        for s in steps
        if (s.run_id, s.asset) not in seen
    ]
    if rows:
        columns = ["run_id", "asset", "first_hour", "last_hour", "hours", "started", "finished", "outcome", "failed_checks"]
        columns += ["figures.metric", "figures.labels", "figures.value", "recorded_at"]
        client.insert(PIPELINE_RUNS, rows, column_names=columns)
    return len(rows)


def _labels(text: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(json.loads(text).items()))


def current_samples(client) -> list[Sample]:
    """What the gateway should hold now: counters summed over the whole history, each asset's gauges
    from its newest row, and the pipeline gauges (last success, duration per hour, last complete hour)."""
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
    for asset, finished, seconds_per_hour in client.query(
        "SELECT asset, max(finished), argMax((toUnixTimestamp64Milli(finished) - toUnixTimestamp64Milli(started)) / 1000 / hours, "
        f"finished) FROM `{PIPELINE_RUNS}` GROUP BY asset ORDER BY asset"
    ).result_rows:
        found.append(Sample("metering_last_success_timestamp_seconds", (("asset", asset),), _epoch(finished)))
        found.append(Sample("metering_hour_duration_seconds", (("asset", asset),), Decimal(str(round(seconds_per_hour, 3)))))
    exported = client.query(
        f"SELECT count(), max(last_hour) FROM `{PIPELINE_RUNS}` WHERE asset = {{asset:String}}", parameters={"asset": EXPORT_ASSET}
    ).result_rows[0]
    if exported[0]:
        found.append(Sample("metering_last_complete_hour_timestamp_seconds", (), _epoch(exported[1])))
    return found


def _epoch(moment: datetime) -> Decimal:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return Decimal(str(round(aware.timestamp(), 3)))
