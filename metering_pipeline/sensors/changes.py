"""Hours whose landing file set differs from the one their last materialization ingested."""

from dataclasses import dataclass

import dagster as dg

from metering_pipeline.catalog import Catalog
from metering_pipeline.resources.landing import LandingZone
from metering_pipeline.sensors.fingerprint import hour_digest
from metering_pipeline.sensors.recorded import recorded_fingerprints


@dataclass(frozen=True)
class Change:
    key: str
    storage_id: int  # the materialization this change supersedes
    recorded: str
    current: str

    @property
    def run_key(self) -> str:
        """Same change, same key: ticks and daemon restarts cannot launch it twice; a new file set or a
        newer materialization (after which the same set can change again) gives a new key."""
        return f"late-files:{self.key}:{self.storage_id}:{self.current}"


def find_changes(instance: dg.DagsterInstance, landing: LandingZone, catalog: Catalog, keys) -> tuple[list[Change], list[str]]:
    """(changed hours, hours materialized without a fingerprint to compare). Never-materialized hours
    are not looked at: the hourly schedule (or a backfill) owns their first run."""
    changes, blind = [], []
    for key, recorded in sorted(recorded_fingerprints(instance, keys).items()):
        if recorded.digest is None:
            blind.append(key)
            continue
        current = hour_digest(landing, catalog, key)
        if current != recorded.digest:
            changes.append(Change(key, recorded.storage_id, recorded.digest, current))
    return changes, blind
