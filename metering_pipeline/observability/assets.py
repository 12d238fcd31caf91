"""pipeline_runs: after the hour's steps, record what each did and push the pipeline's metrics.

One place observes every step: the asset runs last in the run, reads the run's own
materializations from the event log (run_log.py), adds the few breakdowns the metadata does not
carry from the tables those steps just wrote (the committed export revisions, the alerts fired),
appends one `pipeline_runs` row per step and pushes the totals. A run with a failed step never
reaches this asset; failures.py records it with the same `record_run`. The observed
assets stay unaware of monitoring, and a gateway that is down or slow costs one bounded,
warned push after the ClickHouse session is closed.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import dagster as dg

from metering_pipeline.alerts.tables import USAGE_ALERTS
from metering_pipeline.export.assets import BILLING_EXPORT
from metering_pipeline.export.grain import HOUR, grain_named
from metering_pipeline.export.ledger import LEDGER, ledger_tables
from metering_pipeline.ingest.assets import ACCEPTED_EVENTS
from metering_pipeline.observability import metrics
from metering_pipeline.observability.history import PIPELINE_RUNS, StepRecord, current_samples, record_steps
from metering_pipeline.observability.pushgateway import Pushgateway
from metering_pipeline.observability.run_log import ObservedStep, observed_steps
from metering_pipeline.partitions import hour_start
from metering_pipeline.resources import ClickHouseResource
from metering_pipeline.schedules import ASSET_POLICY
from metering_pipeline.warehouse.tables import USAGE_HOURLY

OBSERVED = (ACCEPTED_EVENTS, USAGE_HOURLY, USAGE_ALERTS, BILLING_EXPORT)


def _window(step: ObservedStep) -> dict:
    hours = step.hours
    return {"first": hours[0].replace(tzinfo=None), "last": hours[-1].replace(tzinfo=None)}


def exported_revisions(client, step: ObservedStep) -> list[metrics.ExportedRevision]:
    found = []
    ledger = ledger_tables(grain_named(step.metadata.get("grain") or HOUR.name))[LEDGER]  # the grain the step exported at
    for partition, revision in sorted((step.metadata.get("new_revisions") or {}).items()):
        rows = client.query(
            f"SELECT meter, unit, count(), sum(quantity) FROM `{ledger}` "
            "WHERE hour = {hour:DateTime('UTC')} AND revision = {revision:UInt32} GROUP BY meter, unit",
            parameters={"hour": hour_start(partition).replace(tzinfo=None), "revision": int(revision)},
        ).result_rows
        quantities = {(meter, unit): Decimal(q) for meter, unit, _, q in rows}
        found.append(metrics.ExportedRevision(int(revision), sum(int(n) for _, _, n, _ in rows), quantities))
    return found


def _fired_by_threshold(client, step: ObservedStep) -> dict[int, int]:
    if step.started is None or step.finished is None:
        return {}
    rows = client.query(
        f"SELECT threshold, count() FROM `{USAGE_ALERTS}` FINAL WHERE evaluated_hour >= {{first:DateTime('UTC')}} "
        "AND evaluated_hour <= {last:DateTime('UTC')} AND fired_at >= {started:DateTime64(3, 'UTC')} "
        "AND fired_at <= {finished:DateTime64(3, 'UTC')} GROUP BY threshold",
        parameters={
            **_window(step),
            "started": step.started.replace(tzinfo=None),
            "finished": (step.finished + timedelta(seconds=1)).replace(tzinfo=None),
        },
    ).result_rows
    return {int(t): int(n) for t, n in rows}


def step_samples(client, step: ObservedStep) -> list[metrics.Sample]:
    """The figures of a step's materializations (none for a failed step that materialized nothing)."""
    if not step.metadata:
        return []
    if step.asset == ACCEPTED_EVENTS:
        return metrics.ingest_samples(step.metadata)
    if step.asset == USAGE_HOURLY:
        return metrics.usage_samples(step.metadata)
    if step.asset == BILLING_EXPORT:
        return metrics.export_samples(step.metadata, exported_revisions(client, step))
    return metrics.alert_samples(step.metadata, _fired_by_threshold(client, step))


def step_record(client, run_id: str, step: ObservedStep, now: datetime) -> StepRecord:
    hours = step.hours
    return StepRecord(
        run_id=run_id,
        asset=step.asset,
        first_hour=hours[0],
        last_hour=hours[-1],
        hours=len(hours),
        started=step.started or now,
        finished=step.finished or now,
        failed_checks=tuple(sorted(step.failed_checks)),
        samples=tuple(step_samples(client, step)),
        error=step.error,
    )


def record_run(clickhouse: ClickHouseResource, pushgateway: Pushgateway, run_id: str, entries, log, other_failures=False) -> dict:
    """Append the run's steps not recorded yet to `pipeline_runs` and push the totals; what was done, as metadata."""
    steps = [s for s in observed_steps(entries, OBSERVED, other_failures).values() if s.partitions]
    now = datetime.now(UTC)
    with clickhouse.get_client(purpose=f"pipeline history run {run_id}") as client:
        recorded = record_steps(client, [step_record(client, run_id, s, now) for s in steps], now)
        samples = current_samples(client)
    pushed = pushgateway.push(samples, log)
    return {
        "steps_recorded": recorded,
        "assets_observed": sorted(s.asset for s in steps),
        "steps_failed": sorted(s.asset for s in steps if s.error),
        "samples": len(samples),
        "pushed": pushed,
        "pushgateway_configured": pushgateway.configured,
    }


@dg.asset(
    name=PIPELINE_RUNS,
    deps=list(OBSERVED),
    group_name="observability",
    kinds={"clickhouse", "prometheus"},
    **ASSET_POLICY,
    description="The run history (table `pipeline_runs`: one row per asset step with its figures) and the "
    "metrics pushed to the Pushgateway (METERING_PUSHGATEWAY_URL), totals computed from that history.",
)
def pipeline_runs(context: dg.AssetExecutionContext, clickhouse: ClickHouseResource, pushgateway: Pushgateway):
    done = record_run(clickhouse, pushgateway, context.run.run_id, context.instance.all_logs(context.run.run_id), context.log)
    return dg.MaterializeResult(metadata={k: dg.MetadataValue.json(v) if isinstance(v, list) else v for k, v in done.items()})
