"""Deliver pending alerts to the webhook, oldest first, and say what happened to each.

One message per alert. If a message exhausts its retries the webhook is taken to be down:
the rest are not tried in this run (they stay pending and the next hour's run retries
them), so a dead endpoint costs one message's backoff per run, not one per alert.
"""

from metering_pipeline.alerts.evaluate import Crossing
from metering_pipeline.alerts.webhook import AlertWebhook
from metering_pipeline.schedules import utc_now


def alert_text(crossing: Crossing, unit: str) -> str:
    quota = crossing.quota
    return (
        f"Usage alert: tenant {quota.tenant} reached {crossing.percent}% of its {quota.meter} quota for "
        f"{crossing.crossed_hour:%Y-%m} ({crossing.usage.normalize():f} of {quota.quota.normalize():f} {unit}); "
        f"the {crossing.threshold}% threshold was crossed in the hour {crossing.crossed_hour:%Y-%m-%d %H:00} UTC."
    )


def deliver(webhook: AlertWebhook, alerts: list[dict]) -> list[dict]:
    """New versions of the alerts that were tried; untried ones are left out (still pending)."""
    updated = []
    for alert in alerts:
        outcome = webhook.send(alert["message"])
        updated.append(
            {
                **alert,
                "delivery_status": "delivered" if outcome.ok else "pending",
                "attempts": alert["attempts"] + outcome.attempts,
                "last_attempt_at": utc_now().replace(tzinfo=None),
                "last_error": outcome.error,
            }
        )
        if not outcome.ok:
            break
    return updated
