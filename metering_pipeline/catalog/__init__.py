"""Sources and meters: what lands, in which format, and what is billed."""

from metering_pipeline.catalog.model import (
    AGGREGATIONS,
    Catalog,
    CatalogError,
    Meter,
    Source,
    load_catalog,
    parse_catalog,
)

__all__ = ["AGGREGATIONS", "Catalog", "CatalogError", "Meter", "Source", "load_catalog", "parse_catalog"]
