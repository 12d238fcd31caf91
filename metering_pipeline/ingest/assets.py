"""Ingest + validate as one multi-asset: accepted events and the quarantine are written together."""

import dagster as dg

from metering_pipeline.ingest.engine import reading_function
from metering_pipeline.ingest.hour import ingest_hour
from metering_pipeline.ingest.metadata import check_results, check_specs, events_metadata
from metering_pipeline.partitions import hour_start, run_partition_keys
from metering_pipeline.resources import CatalogResource, ClickHouseResource, LandingZone
from metering_pipeline.schedules import ASSET_POLICY
from metering_pipeline.warehouse.staging import drop_stale_staging

ACCEPTED_EVENTS = "accepted_events"
QUARANTINED_LINES = "quarantined_lines"
DROPPED_DUPLICATES = "dropped_duplicates"
LANDED_FILES = "landed_files"


# The step's four tables: (asset, description, which of the step's metadata keys it shows).
TABLES = (
    (ACCEPTED_EVENTS, "Validated, deduplicated usage events of the hour (table `events`).", lambda k: True),
    (QUARANTINED_LINES, "Every rejected line of the hour with its reason (table `quarantine`).", lambda k: k.startswith("quarantined")),
    (
        DROPPED_DUPLICATES,
        "Every dropped duplicate copy of the hour, with the copy that counted (table `duplicates`).",
        lambda k: k.startswith("duplicate"),
    ),
    (
        LANDED_FILES,
        "The files the hour read: size, version and lines read (table `landed_files`).",
        lambda k: k in ("files", "bytes_read", "lines_read"),
    ),
)


@dg.multi_asset(
    specs=[dg.AssetSpec(key, group_name="ingest", kinds={"clickhouse"}, description=text) for key, text, _ in TABLES],
    check_specs=check_specs(ACCEPTED_EVENTS),
    **ASSET_POLICY,
)
def ingest(context: dg.AssetExecutionContext, clickhouse: ClickHouseResource, landing: LandingZone, catalog: CatalogResource):
    loaded = catalog.load()
    reports = []
    keys = run_partition_keys(context)
    reader = reading_function(landing.reader, landing.on_s3, clickhouse.is_embedded, clickhouse.cluster)
    with clickhouse.get_client(purpose=f"ingest run {context.run.run_id}") as client:
        if dropped := drop_stale_staging(client):
            context.log.warning("dropped %d staging tables left by killed runs", dropped)
        for key in keys:
            report = ingest_hour(
                client, landing, loaded, hour_start(key), reader=reader, cluster=clickhouse.cluster, collection=clickhouse.s3_collection
            )
            for name, why in report.fallback.items():
                context.log.warning("%s: %s read by the Python reader: %s", key, name, why)
            context.log.info(
                "%s: %d lines, %d accepted, %d duplicates, %d quarantined",
                key,
                report.lines_read,
                report.accepted,
                report.duplicates,
                report.quarantined_total,
            )
            reports.append(report)
    metadata = events_metadata(reports)
    for key, _, shown in TABLES:
        yield dg.MaterializeResult(asset_key=key, metadata={k: v for k, v in metadata.items() if k == "partitions" or shown(k)})
    yield from check_results(ACCEPTED_EVENTS, reports)
