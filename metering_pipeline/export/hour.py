"""One hour's export: plan the revision, write its objects, commit the ledger, write the manifest last.

    read ledger + usage -> deltas -> records -> objects (deterministic keys and bytes)
    PUT every object -> sweep uncommitted leftovers -> commit ledger (one insert) -> manifest

At the quarter-hour grain (grain.py) the first line runs per 15-minute window of the hour
(usage_quarter_hourly against the ledger rows of that window) and the rest once for the hour:
one revision, one commit and one manifest cover whichever windows changed.

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
from datetime import UTC, datetime

from metering_pipeline.catalog import Catalog
from metering_pipeline.export.amounts import Amount, UsageKey, accumulate, compute_deltas
from metering_pipeline.export.chunks import Limits, PlannedObject, plan_objects
from metering_pipeline.export.grain import HOUR, Grain
from metering_pipeline.export.layout import manifest_key, manifest_prefix
from metering_pipeline.export.ledger import commit, committed_revisions, ledger_rows, record_rows, repair_revisions, revision_rows
from metering_pipeline.export.records import Window, build_records, window_of
from metering_pipeline.export.store import CONTENT_TYPE, build_manifest, refuse_other_grains, serialize_manifest, sweep
from metering_pipeline.provenance.catalogs import record_catalog
from metering_pipeline.usage.integrity import window_mismatches

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


class WindowsNotBuilt(RuntimeError):
    """The hour's 15-minute windows do not roll up to its usage_hourly rows."""


def refuse_unbuilt_windows(client, hour: datetime, grain: Grain) -> None:
    """A finer grain exports usage_quarter_hourly, which only hours built since that table exists have.
    An hour whose windows do not roll up to usage_hourly (built before, or a build interrupted between
    the two swaps) would export too little and look complete, so it fails instead, naming the fix."""
    if grain == HOUR:
        return
    found = window_mismatches(client, hour)
    if found:
        raise WindowsNotBuilt(
            f"{hour:%Y-%m-%d %H:00}: usage_quarter_hourly does not roll up to usage_hourly for {len(found)} group(s), "
            f"e.g. {found[0][:4]}; rerun usage_hourly for this hour (hours built before quarter hours existed have no windows)"
        )


def read_usage(client, hour: datetime, grain: Grain = HOUR) -> dict[datetime, dict[UsageKey, Amount]]:
    """{window start: {key: amount}} of the hour at the grain."""
    table, window = grain.usage_table, grain.usage_window
    result = client.query(
        f"SELECT {window}, meter, tenant_id, billing_account_id, dimensions, sum(value), sum(event_count), any(event_type), any(unit) "
        f"FROM `{table}` WHERE hour = {{hour:DateTime('UTC')}} GROUP BY {window}, meter, tenant_id, billing_account_id, dimensions",
        parameters={"hour": hour.replace(tzinfo=None)},
    )
    found: dict[datetime, dict[UsageKey, Amount]] = {}
    for start, meter, tenant, account, dims, value, events, event_type, unit in result.result_rows:
        start = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
        found.setdefault(start, {})[UsageKey.of(meter, tenant, account, dims)] = Amount(value, int(events), event_type, unit)
    return found


def export_hour(client, store, catalog: Catalog, partition_key: str, limits: Limits, grain: Grain = HOUR) -> HourExport:
    hour = window_of(partition_key)
    report = HourExport(partition_key)
    refuse_other_grains(store, hour.start, grain)
    refuse_unbuilt_windows(client, hour.start, grain)
    rows = ledger_rows(client, hour.start, grain)
    committed = committed_revisions(client, hour.start, grain)
    usage = read_usage(client, hour.start, grain)
    deltas = {
        window: compute_deltas(usage.get(window.start, {}), accumulate((r.key, r.amount) for r in rows if r.window_start == window.start))
        for window in grain.windows(partition_key)
    }
    keep = {r.object_key for r in rows}
    if any(deltas.values()) or not committed:
        revision = max(committed) + 1 if committed else 0
        drafts = frozenset(m.name for m in catalog.meters if m.phase == "draft")
        objects = [
            planned
            for window, changed in deltas.items()
            for planned in plan_objects(build_records(changed, catalog, revision, window), window, revision, limits, drafts)
        ]
        for planned in objects:
            store.put(planned.key, planned.body, NDJSON)
        report.swept = sweep(store, hour.start, keep | {o.key for o in objects}, grain)
        record_catalog(client, catalog)
        commit(
            client,
            hour.start,
            revision,
            record_rows(objects, hour.start, catalog.digest),
            manifest_key(hour.start, revision, grain.suffix),
            catalog.digest,
            len(objects),
            grain,
        )
        report.revision, report.objects = revision, objects
    else:
        report.swept = sweep(store, hour.start, keep, grain)
    report.manifests = write_missing_manifests(client, store, hour, grain)
    report.latest_revision = max(committed_revisions(client, hour.start, grain))
    return report


def write_missing_manifests(client, store, window: Window, grain: Grain = HOUR) -> list[str]:
    """Write the manifest of every committed revision that has none yet (normally just the new one)."""
    rows = ledger_rows(client, window.start, grain)
    repair_revisions(client, window.start, rows, lambda r: manifest_key(window.start, r, grain.suffix), grain)
    hashes = revision_rows(client, window.start, grain)
    present = set(store.keys(manifest_prefix(window.start, grain.suffix)))
    written = []
    for revision in sorted(hashes):
        key = manifest_key(window.start, revision, grain.suffix)
        if key not in present:
            manifest = build_manifest(window, revision, hashes[revision], [r for r in rows if r.revision == revision])
            store.put(key, serialize_manifest(manifest), CONTENT_TYPE)
            written.append(key)
    return written
