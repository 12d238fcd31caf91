"""The meter catalog as a resource, so a run reads the catalog it was launched with."""

from functools import lru_cache

import dagster as dg
from pydantic import Field

from metering_pipeline.catalog import Catalog, load_catalog


@lru_cache(maxsize=8)
def _cached(path: str) -> Catalog:
    return load_catalog(path or None)


class CatalogResource(dg.ConfigurableResource):
    path: str = Field(default="", description="Catalog YAML; empty means the catalog shipped in the package")

    def load(self) -> Catalog:
        return _cached(self.path)
