"""billing_export: each hour's usage as NDJSON objects for downstream billing, with corrections as new revisions."""

from dataclasses import dataclass

import dagster as dg

from metering_pipeline.catalog.lifecycle import enforce_published
from metering_pipeline.export.checks import LEDGER_MATCHES_USAGE, OBJECTS_MATCH_MANIFESTS, OBJECTS_WITHIN_LIMITS, check_hour
from metering_pipeline.export.grain import HOUR
from metering_pipeline.export.hour import HourExport, export_hour
from metering_pipeline.export.ledger import ensure_ledger
from metering_pipeline.export.records import window_of
from metering_pipeline.partitions import run_partition_keys
from metering_pipeline.resources import CatalogResource, ClickHouseResource
from metering_pipeline.resources.export_store import ExportStore
from metering_pipeline.schedules import ASSET_POLICY
from metering_pipeline.warehouse.tables import USAGE_HOURLY, USAGE_QUARTER_HOURLY, ensure_tables

BILLING_EXPORT = "billing_export"
MAX_KEYS_IN_METADATA = 200
CHECKS = {
    LEDGER_MATCHES_USAGE: "Ledger quantity and event_count summed over revisions equal usage_hourly (usage_quarter_hourly at the "
    "quarter-hour grain) per tenant x meter x dimensions x window",
    OBJECTS_MATCH_MANIFESTS: "Objects under the hour's keys are exactly those the manifests list (none missing, no strays)",
    OBJECTS_WITHIN_LIMITS: "Every object is within the configured record and byte limits",
}


@dg.asset(
    name=BILLING_EXPORT,
    deps=[USAGE_HOURLY],
    group_name="export",
    kinds={"clickhouse", "s3"},
    **ASSET_POLICY,
    check_specs=[dg.AssetCheckSpec(name, asset=BILLING_EXPORT, description=text) for name, text in CHECKS.items()],
    description="Per-hour (or, with METERING_EXPORT_GRAIN=quarter_hour, per-15-minute) NDJSON usage records in the export "
    "store (METERING_EXPORT_URL), idempotent, corrections as append-only revisions; a ledger in ClickHouse records what was exported.",
)
def billing_export(context: dg.AssetExecutionContext, clickhouse: ClickHouseResource, catalog: CatalogResource, export_store: ExportStore):
    loaded = catalog.load()
    grain = export_store.export_grain
    store = export_store.open()
    reports: list[HourSummary] = []
    problems: dict[str, list[str]] = {name: [] for name in CHECKS}
    keys = run_partition_keys(context)
    with clickhouse.get_client(purpose=f"export run {context.run.run_id}") as client:
        enforce_published(client, loaded)
        ensure_tables(client, USAGE_HOURLY, *([] if grain == HOUR else [USAGE_QUARTER_HOURLY]))
        ensure_ledger(client, grain)
        for key in keys:
            report = export_hour(client, store, loaded, key, export_store.limits, grain)
            context.log.info(
                "%s (%s grain): revision %s, %d objects, %d records, %d manifests written, %d strays removed",
                key,
                grain.name,
                report.revision,
                len(report.objects),
                report.records,
                len(report.manifests),
                len(report.swept),
            )
            reports.append(HourSummary.of(report))  # not the report: its objects hold every body written
            for name, found in check_hour(client, store, window_of(key), export_store.limits, grain).items():
                problems[name] += found
    yield dg.MaterializeResult(metadata={**export_metadata(reports, store), "grain": grain.name})
    for name, found in problems.items():
        yield dg.AssetCheckResult(
            check_name=name, passed=not found, metadata={"problems": len(found), "first_problems": dg.MetadataValue.json(found[:50])}
        )


@dataclass(frozen=True)
class HourSummary:
    """What the metadata needs from an hour's export, without the object bodies (a month backfill holds 720)."""

    partition_key: str
    revision: int | None
    latest_revision: int
    objects: int
    records: int
    bytes: int
    manifests: int
    swept: int
    keys_written: tuple[str, ...]

    @classmethod
    def of(cls, report: HourExport) -> "HourSummary":
        return cls(
            report.partition_key,
            report.revision,
            report.latest_revision,
            len(report.objects),
            report.records,
            report.bytes,
            len(report.manifests),
            len(report.swept),
            tuple(report.keys_written),
        )


def export_metadata(reports: list[HourSummary], store) -> dict:
    written = [store.location(key) for r in reports for key in r.keys_written[:MAX_KEYS_IN_METADATA]]
    return {
        "partitions": len(reports),
        "objects": sum(r.objects for r in reports),
        "records": sum(r.records for r in reports),
        "bytes": sum(r.bytes for r in reports),
        "revision": max((r.latest_revision for r in reports), default=-1),
        "new_revisions": dg.MetadataValue.json({r.partition_key: r.revision for r in reports if r.revision is not None}),
        "manifests": sum(r.manifests for r in reports),
        "strays_removed": sum(r.swept for r in reports),
        "retries": store.retries,
        "keys_written": dg.MetadataValue.json(written[:MAX_KEYS_IN_METADATA]),
    }
