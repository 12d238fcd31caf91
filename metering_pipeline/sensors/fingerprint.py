"""What an hour's landing folders hold now, reduced to the digest ingest records at materialization.

The digest is the same function of the same (name, size, version) triples as
`metering_pipeline.ingest.metadata.fingerprint_digest`, so a listing made by the sensor
and one made by ingest agree exactly when no file was added, removed or rewritten.
"""

import hashlib
import json
from collections.abc import Iterable

from metering_pipeline.catalog import Catalog
from metering_pipeline.partitions import hour_start
from metering_pipeline.resources.landing import LandingFile, LandingZone


def landing_digest(files: Iterable[LandingFile]) -> str:
    """Digest of a file set; order-free, and an empty set has a digest too (an hour can start empty)."""
    triples = sorted((f.name, f.size, f.version) for f in files)
    return hashlib.sha256(json.dumps(triples).encode()).hexdigest()[:16]


def hour_digest(landing: LandingZone, catalog: Catalog, partition_key: str) -> str:
    hour = hour_start(partition_key)
    return landing_digest(f for source in catalog.sources for f in landing.list_hour(source.name, hour))


def current_digests(landing: LandingZone, catalog: Catalog, partition_keys: Iterable[str]) -> dict[str, str]:
    return {key: hour_digest(landing, catalog, key) for key in partition_keys}
