"""usage_alerts: after each hour's usage, fire quota thresholds once and deliver them to the webhook.

Evaluation holds the warehouse; delivery (which may back off for seconds) happens after
the client is closed, and its outcome is written back in a second short session.
"""

import dagster as dg

from metering_pipeline.alerts.delivery import deliver
from metering_pipeline.alerts.resources import QuotasResource
from metering_pipeline.alerts.run import evaluate_hours
from metering_pipeline.alerts.store import pending, record_attempts
from metering_pipeline.alerts.tables import USAGE_ALERTS
from metering_pipeline.alerts.webhook import AlertWebhook
from metering_pipeline.partitions import hour_start, run_partition_keys
from metering_pipeline.resources import CatalogResource, ClickHouseResource
from metering_pipeline.schedules import ASSET_POLICY
from metering_pipeline.warehouse.tables import USAGE_HOURLY

DELIVERED = "alerts_delivered"


@dg.asset(
    name=USAGE_ALERTS,
    deps=[USAGE_HOURLY],
    group_name="alerts",
    kinds={"clickhouse"},
    **ASSET_POLICY,
    description="Quota thresholds crossed by month-to-date usage, each fired once (table `usage_alerts`).",
    check_specs=[
        dg.AssetCheckSpec(DELIVERED, asset=USAGE_ALERTS, description="No alert is left pending: every fired alert reached the webhook")
    ],
)
def usage_alerts(
    context: dg.AssetExecutionContext,
    clickhouse: ClickHouseResource,
    catalog: CatalogResource,
    quotas: QuotasResource,
    alert_webhook: AlertWebhook,
):
    hours = [hour_start(key).replace(tzinfo=None) for key in run_partition_keys(context)]
    status = "pending" if alert_webhook.configured else "stored"
    with clickhouse.get_client(purpose=f"usage alerts run {context.run.run_id}") as client:
        report = evaluate_hours(client, catalog.load(), quotas.load(), hours, status)
        waiting = pending(client)
    updated = deliver(alert_webhook, waiting) if alert_webhook.configured else []
    if updated:
        with clickhouse.get_client(purpose=f"usage alerts delivery {context.run.run_id}") as client:
            record_attempts(client, updated)
    still_pending = len(waiting) - sum(1 for u in updated if u["delivery_status"] == "delivered")
    for problem in report.ignored:
        context.log.warning("quota left out: %s", problem)
    for crossing in report.fired:
        context.log.info(
            "fired: %s %s %s%% (crossed %s)", crossing.quota.tenant, crossing.quota.meter, crossing.threshold, crossing.crossed_hour
        )
    yield dg.MaterializeResult(
        metadata={
            "partitions": len(hours),
            "quotas": report.quotas,
            "quotas_ignored": len(report.ignored),
            "fired": len(report.fired),
            "drops_recorded": report.drops_recorded,
            "delivered": len(updated) - sum(1 for u in updated if u["delivery_status"] == "pending"),
            **delivery_outcomes(waiting, updated, alert_webhook.configured),
            "pending": still_pending,
            "webhook_configured": alert_webhook.configured,
        }
    )
    yield dg.AssetCheckResult(
        check_name=DELIVERED,
        passed=still_pending == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if still_pending == 0 else f"{still_pending} alert(s) pending delivery; retried next hour",
        metadata={"pending": still_pending, "last_error": next((u["last_error"] for u in updated if u["last_error"]), "")},
    )


def delivery_outcomes(waiting: list[dict], updated: list[dict], configured: bool) -> dict:
    """What this run's delivery did, for the metrics: alerts whose every try failed (they stay pending),
    alerts not tried because the webhook had just failed (delivery.py), and the requests made.
    `updated` holds the tried alerts in `waiting`'s order."""
    return {
        "delivery_failed": sum(1 for u in updated if u["delivery_status"] == "pending"),
        "delivery_deferred": len(waiting) - len(updated) if configured else 0,
        "delivery_attempts": sum(u["attempts"] - w["attempts"] for w, u in zip(waiting, updated)),
    }
