"""Resources: the warehouse, the landing zone, the catalog; configured from the environment in definitions.py."""

from metering_pipeline.resources.catalog import CatalogResource
from metering_pipeline.resources.clickhouse import ClickHouseResource
from metering_pipeline.resources.landing import LandingZone

CLICKHOUSE_POOL = "clickhouse"

__all__ = ["CLICKHOUSE_POOL", "CatalogResource", "ClickHouseResource", "LandingZone"]
