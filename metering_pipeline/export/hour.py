"""One hour's export: plan the revision, write its objects, commit the ledger, write the manifest last.

    read ledger + usage -> deltas -> records -> objects (deterministic keys and bytes)
    PUT every object -> sweep uncommitted leftovers -> commit ledger (one insert) -> manifest

A crash anywhere before the commit leaves no ledger trace, and the retry writes the same
bytes to the same keys (same usage, same records, same ids). A crash after the commit and
before the manifest leaves a committed revision without manifest; every run writes the
manifests its committed revisions lack, rebuilt from the ledger byte for byte. Nothing is
ever counted twice, because what is counted is the ledger, written once per revision.

The ClickHouse client is held for the whole hour, S3 writes included: with the embedded
engine that lock is also what keeps two exports of one hour from interleaving (and the
`clickhouse` pool serializes these steps anyway); `commit` re-checks that the revision is
still free, so an exporter racing on a ClickHouse server fails loudly instead of doubling.
"""

from dataclasses import dataclass, field
from datetime import datetime

from metering_pipeline.catalog import Catalog
from metering_pipeline.export.amounts import Amount, UsageKey, accumulate, compute_deltas
from metering_pipeline.export.chunks import Limits, PlannedObject, plan_objects
from metering_pipeline.export.layout import manifest_key, manifest_prefix
from metering_pipeline.export.ledger import commit, committed_revisions, ledger_rows, record_rows, repair_revisions, revision_rows
from metering_pipeline.export.records import Window, build_records, window_of
from metering_pipeline.export.store import CONTENT_TYPE, build_manifest, serialize_manifest, sweep
from metering_pipeline.provenance.catalogs import record_catalog
from metering_pipeline.warehouse.tables import USAGE_HOURLY

NDJSON = "application/x-ndjson"


@dataclass
class HourExport:
    partition_key: str
    revision: int | None = None  # the revision this run added, if any
    latest_revision: int = -1
    objects: list[PlannedObject] = field(default_factory=list)
    manifests: list[str] = field(default_factory=list)
    swept: list[str] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(len(o.records) for o in self.objects)

    @property
    def bytes(self) -> int:
        return sum(len(o.body) for o in self.objects)

    @property
    def keys_written(self) -> list[str]:
        return [o.key for o in self.objects] + self.manifests


def read_usage(client, hour: datetime) -> dict[UsageKey, Amount]:
    result = client.query(
        f"SELECT meter, tenant_id, billing_account_id, dimensions, sum(value), sum(event_count), any(event_type), any(unit) "
        f"FROM `{USAGE_HOURLY}` WHERE hour = {{hour:DateTime('UTC')}} GROUP BY meter, tenant_id, billing_account_id, dimensions",
        parameters={"hour": hour.replace(tzinfo=None)},
    )
    return {
        UsageKey.of(meter, tenant, account, dims): Amount(value, int(events), event_type, unit)
        for meter, tenant, account, dims, value, events, event_type, unit in result.result_rows
    }


def export_hour(client, store, catalog: Catalog, partition_key: str, limits: Limits) -> HourExport:
    window = window_of(partition_key)
    report = HourExport(partition_key)
    rows = ledger_rows(client, window.start)
    committed = committed_revisions(client, window.start)
    deltas = compute_deltas(read_usage(client, window.start), accumulate((r.key, r.amount) for r in rows))
    keep = {r.object_key for r in rows}
    if deltas or not committed:
        revision = max(committed) + 1 if committed else 0
        drafts = frozenset(m.name for m in catalog.meters if m.phase == "draft")
        objects = plan_objects(build_records(deltas, catalog, revision, window), window, revision, limits, drafts)
        for planned in objects:
            store.put(planned.key, planned.body, NDJSON)
        report.swept = sweep(store, window.start, keep | {o.key for o in objects})
        record_catalog(client, catalog)
        commit(
            client,
            window.start,
            revision,
            record_rows(objects, window.start, window.end, catalog.digest),
            manifest_key(window.start, revision),
            catalog.digest,
            len(objects),
        )
        report.revision, report.objects = revision, objects
    else:
        report.swept = sweep(store, window.start, keep)
    report.manifests = write_missing_manifests(client, store, window)
    report.latest_revision = max(committed_revisions(client, window.start))
    return report


def write_missing_manifests(client, store, window: Window) -> list[str]:
    """Write the manifest of every committed revision that has none yet (normally just the new one)."""
    rows = ledger_rows(client, window.start)
    repair_revisions(client, window.start, rows, lambda r: manifest_key(window.start, r))
    hashes = revision_rows(client, window.start)
    present = set(store.keys(manifest_prefix(window.start)))
    written = []
    for revision in sorted(hashes):
        key = manifest_key(window.start, revision)
        if key not in present:
            manifest = build_manifest(window, revision, hashes[revision], [r for r in rows if r.revision == revision])
            store.put(key, serialize_manifest(manifest), CONTENT_TYPE)
            written.append(key)
    return written
