"""`make demo`: land three sample hours, run every asset for them through Dagster, print per-tenant usage."""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from metering_pipeline.partitions import partition_key_for
from metering_pipeline.samples import write_sample_hour
from metering_pipeline.settings import resolved

FIRST_HOUR = datetime(2026, 11, 22, 10, tzinfo=UTC)
HOURS = 3


def run(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    from metering_pipeline.definitions import defs

    keys = [partition_key_for(FIRST_HOUR + timedelta(hours=h)) for h in range(HOURS)]
    job = defs.resolve_job_def("hourly_metering")
    # One run for the whole range, as a single-run backfill from the UI would do.
    return job.execute_in_process(
        instance=instance,
        tags={"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]},
    )


def usage_table() -> list[tuple]:
    """The day's usage per tenant and meter from the analysts' `usage_daily` mart (dimensions rolled up)."""
    from metering_pipeline.resources import ClickHouseResource
    from metering_pipeline.usage.aggregation import rollup

    clickhouse = ClickHouseResource(url=resolved("METERING_CLICKHOUSE_URL"), database=resolved("METERING_DATABASE"))
    with clickhouse.get_client(purpose="demo report") as client:
        return client.query(
            f"SELECT tenant_id, meter, any(unit), {rollup()}, "
            "sum(event_count) FROM {marts:Identifier}.usage_daily WHERE day = {day:Date} "
            "GROUP BY tenant_id, meter ORDER BY tenant_id, meter",
            parameters={"marts": f"{clickhouse.database}_analytics", "day": FIRST_HOUR.date()},
        ).result_rows


def export_keys() -> list[str]:
    from metering_pipeline.export.store import exported_keys
    from metering_pipeline.resources import ClickHouseResource
    from metering_pipeline.resources.export_store import ExportStore

    clickhouse = ClickHouseResource(url=resolved("METERING_CLICKHOUSE_URL"), database=resolved("METERING_DATABASE"))
    keys = [partition_key_for(FIRST_HOUR + timedelta(hours=h)) for h in range(HOURS)]
    return exported_keys(clickhouse, keys, ExportStore(url=resolved("METERING_EXPORT_URL")))


def main() -> None:
    landing = resolved("METERING_LANDING_URL")
    if landing.startswith("s3://"):
        raise SystemExit("the demo writes sample files to a local landing folder; unset METERING_LANDING_URL")
    for h in range(HOURS):
        write_sample_hour(Path(landing), FIRST_HOUR + timedelta(hours=h))
    with dg.instance_for_test() if not os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.get() as instance:
        result = run(instance)
    if not result.success:
        raise SystemExit("the demo run failed; see the log above")
    print(f"\nUsage per tenant on {FIRST_HOUR:%Y-%m-%d} (UTC), {HOURS} sample hours, from the usage_daily mart:")
    print(f"{'tenant':<16} {'meter':<28} {'quantity':>22} {'unit':<10} {'events':>7}")
    for tenant, meter, unit, quantity, events in usage_table():
        print(f"{tenant:<16} {meter:<28} {quantity:>22} {unit:<10} {events:>7}")
    keys = export_keys()
    print(f"\nBilling export: {len(keys)} objects (data, then manifests):")
    for key in keys:
        print(f"  {key}")


if __name__ == "__main__":
    main()
