"""The landing zone as an external asset, so late files older than the lookback have a place to show.

It is not materialized by Dagster, so `AssetSelection.all()` jobs (hourly_metering) leave
its check out; the late-file sensor reports the check as it sweeps, and running the check
from the UI sweeps every materialized hour at once.
"""

import dagster as dg

from metering_pipeline.resources import CatalogResource, LandingZone
from metering_pipeline.sensors.audit import (
    LANDING_ZONE,
    LATE_BEYOND_LOOKBACK,
    audit_all,
)
from metering_pipeline.sensors.late_files import utc_now
from metering_pipeline.sensors.window import lookback_from_env, lookback_keys

landing_zone = dg.AssetSpec(
    LANDING_ZONE,
    group_name="ingest",
    description="Log files as shippers deliver them: <landing>/<source>/YYYY/MM/DD/HH/*.ndjson[.gz] (external).",
)


def build_late_files_check(*, lookback=None, clock=utc_now) -> dg.AssetChecksDefinition:
    lookback = lookback or lookback_from_env()

    @dg.asset_check(asset=LANDING_ZONE, name=LATE_BEYOND_LOOKBACK,
                    description="No hour older than the late-file lookback has landing files that changed after it was processed")
    def late_files_check(context: dg.AssetCheckExecutionContext, landing: LandingZone, catalog: CatalogResource):
        keys = lookback_keys(clock(), lookback)
        boundary = keys[-1] if keys else None
        stale = audit_all(context.instance, landing, catalog.load(), boundary)
        return dg.AssetCheckResult(
            passed=not stale,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"{len(stale)} hour(s) older than the lookback changed after processing",
            metadata={"stale_hours": dg.MetadataValue.json([c.key for c in stale]), "lookback_starts_at": boundary or ""},
        )

    return late_files_check
