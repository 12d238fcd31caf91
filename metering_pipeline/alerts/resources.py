"""Where quotas come from: a YAML file (METERING_QUOTAS; unset: none) plus the `usage_quotas` table."""

import os

import dagster as dg
from pydantic import Field

from metering_pipeline.alerts.quotas import Quota, check_quotas, load_quota_file
from metering_pipeline.alerts.webhook import alert_webhook
from metering_pipeline.catalog import load_catalog

QUOTAS_ENV = "METERING_QUOTAS"
CATALOG_ENV = "METERING_CATALOG"


class QuotasResource(dg.ConfigurableResource):
    path: str = Field(default="", description="Quotas YAML; empty means no file quotas")

    def load(self) -> list[Quota]:
        """Read each time (it is small): an edited file counts from the next evaluation on."""
        return load_quota_file(self.path or None)


def check_quota_file() -> None:
    """Refuse, when the definitions load, a quota file the configured catalog cannot evaluate.

    Both are local configuration files named by the environment (no secrets), read here once
    so that a quota on an unknown meter stops the code location with a message naming it,
    instead of failing an hourly run after its export was written.
    """
    path = os.environ.get(QUOTAS_ENV)
    if path:
        check_quotas(load_quota_file(path), load_catalog(os.environ.get(CATALOG_ENV) or None), f"{QUOTAS_ENV}={path}")


def alert_resources() -> dict:
    """Resources the alert, sensor and freshness definitions need, configured from the environment."""
    return {
        "quotas": QuotasResource(path=dg.EnvVar(QUOTAS_ENV) if QUOTAS_ENV in os.environ else ""),
        "alert_webhook": alert_webhook(),
    }
