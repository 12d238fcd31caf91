"""usage_hourly: what each tenant used of each meter in the hour, the number billing starts from."""

import dagster as dg

from metering_pipeline.calendars.store import build_period_hours
from metering_pipeline.catalog.lifecycle import enforce_published
from metering_pipeline.ingest.assets import ACCEPTED_EVENTS
from metering_pipeline.partitions import hour_start, run_partition_keys
from metering_pipeline.resources import CatalogResource, ClickHouseResource
from metering_pipeline.schedules import ASSET_POLICY
from metering_pipeline.usage.hour import build_usage_hour
from metering_pipeline.usage.integrity import count_mismatches, window_mismatches
from metering_pipeline.warehouse.tables import USAGE_HOURLY


@dg.asset(
    name=USAGE_HOURLY,
    deps=[ACCEPTED_EVENTS],
    group_name="usage",
    kinds={"clickhouse"},
    **ASSET_POLICY,
    check_specs=[
        dg.AssetCheckSpec(
            "event_counts_match",
            asset=USAGE_HOURLY,
            description="Each meter's event_count equals the hour's accepted events of its type (with its value, for missing_value: skip)",
        ),
        dg.AssetCheckSpec(
            "quarter_hours_match_hour",
            asset=USAGE_HOURLY,
            description="usage_quarter_hourly's 15-minute windows roll up exactly to each usage_hourly row "
            "(count/sum add up, max/min are the extreme, events add up)",
        ),
    ],
)
def usage_hourly(context: dg.AssetExecutionContext, clickhouse: ClickHouseResource, catalog: CatalogResource):
    loaded = catalog.load()
    reports, mismatches, window_faults = [], [], []
    keys = run_partition_keys(context)
    with clickhouse.get_client(purpose=f"usage run {context.run.run_id}") as client:
        enforce_published(client, loaded)
        for key in keys:
            hour = hour_start(key)
            reports.append(build_usage_hour(client, loaded, hour))
            mismatches += [(key, *m) for m in count_mismatches(client, loaded, hour)]
            window_faults += [(key, *m) for m in window_mismatches(client, hour)]
        period_rows = build_period_hours(client, loaded, [hour_start(key) for key in keys])
    yield dg.MaterializeResult(
        metadata={
            "partitions": len(reports),
            "rows": sum(r.rows for r in reports),
            "quarter_hour_rows": sum(r.quarter_hour_rows for r in reports),
            "tenant_period_rows": period_rows,
            "tenants": max((r.tenants for r in reports), default=0),
            "events_metered": sum(r.events for r in reports),
        }
    )
    yield dg.AssetCheckResult(
        check_name="event_counts_match",
        passed=not mismatches,
        metadata={"mismatches": dg.MetadataValue.json([list(map(str, m)) for m in mismatches[:50]])},
    )
    yield dg.AssetCheckResult(
        check_name="quarter_hours_match_hour",
        passed=not window_faults,
        metadata={"mismatches": dg.MetadataValue.json([list(map(str, m)) for m in window_faults[:50]])},
    )
