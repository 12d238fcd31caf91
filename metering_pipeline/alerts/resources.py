"""Where quotas come from: a YAML file (METERING_QUOTAS, else the shipped example) plus the `usage_quotas` table."""

import os

import dagster as dg
from pydantic import Field

from metering_pipeline.alerts.quotas import Quota, load_quota_file
from metering_pipeline.alerts.webhook import alert_webhook

QUOTAS_ENV = "METERING_QUOTAS"


class QuotasResource(dg.ConfigurableResource):
    path: str = Field(default="", description="Quotas YAML; empty means the example shipped in metering_pipeline/alerts")

    def load(self) -> list[Quota]:
        """Read each time (it is small): an edited file counts from the next evaluation on."""
        return load_quota_file(self.path or None)


def alert_resources() -> dict:
    """Resources the alert, sensor and freshness definitions need, configured from the environment."""
    return {
        "quotas": QuotasResource(path=dg.EnvVar(QUOTAS_ENV) if QUOTAS_ENV in os.environ else ""),
        "alert_webhook": alert_webhook(),
    }
