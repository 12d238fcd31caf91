"""Usage alerts: quotas per tenant x meter x calendar month, thresholds fired once, delivered to a webhook."""

from metering_pipeline.alerts.assets import USAGE_ALERTS, usage_alerts
from metering_pipeline.alerts.resources import QuotasResource, alert_resources, check_quota_file
from metering_pipeline.alerts.webhook import WEBHOOK_ENV, AlertWebhook, alert_webhook

__all__ = [
    "USAGE_ALERTS",
    "WEBHOOK_ENV",
    "AlertWebhook",
    "QuotasResource",
    "alert_resources",
    "alert_webhook",
    "check_quota_file",
    "usage_alerts",
]
