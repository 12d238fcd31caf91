"""What an hour's landing folders hold now, reduced to the digest ingest records at materialization.

Ingest and the sensor call the same `landing_digest`, so their digests agree exactly when
no file was added, removed or rewritten.
"""

from collections.abc import Iterable

from metering_pipeline.catalog import Catalog
from metering_pipeline.partitions import hour_start
from metering_pipeline.resources.landing import LandingZone, landing_digest


def hour_digest(landing: LandingZone, catalog: Catalog, partition_key: str) -> str:
    hour = hour_start(partition_key)
    return landing_digest(f for source in catalog.sources for f in landing.list_hour(source.name, hour))


def current_digests(landing: LandingZone, catalog: Catalog, partition_keys: Iterable[str]) -> dict[str, str]:
    return {key: hour_digest(landing, catalog, key) for key in partition_keys}
