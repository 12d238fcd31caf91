"""Sources, meters and attribution: what lands, in which format, what is billed and to whom."""

from metering_pipeline.catalog.attribution import Attribution, AttributionEntry
from metering_pipeline.catalog.errors import CatalogError
from metering_pipeline.catalog.model import (
    AGGREGATIONS,
    PHASES,
    Catalog,
    Meter,
    load_catalog,
    parse_catalog,
)
from metering_pipeline.catalog.sources import Source

__all__ = [
    "AGGREGATIONS",
    "PHASES",
    "Attribution",
    "AttributionEntry",
    "Catalog",
    "CatalogError",
    "Meter",
    "Source",
    "load_catalog",
    "parse_catalog",
]
