"""The export ledger in ClickHouse: every exported record, and every committed revision.

`export_ledger` holds one row per record, written in one insert per revision (`commit`)
and only after every object of the revision is written. `export_revisions` holds one row
per committed revision, including an empty revision 0 (an hour with no usage still gets
its manifest). It is inserted right after the ledger rows; a revision seen in either table
counts as committed, so a crash between the two inserts loses nothing. Both tables are
ReplacingMergeTree on their natural keys and read with FINAL: a replayed insert cannot
double a record. Values are always bound (typed inserts, `{name:Type}` parameters).

Read and written here only. A revision is committed after its objects are written: its
ledger rows go in ONE insert (one block, one monthly partition: one part, so the
revision's records appear all at once or not at all), then the export_revisions row.
A revision found in either table is committed (`committed_revisions`), and
`repair_revisions` adds the revision row a crash between the two inserts left out.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from metering_pipeline.export.amounts import Amount, UsageKey
from metering_pipeline.export.chunks import PlannedObject
from metering_pipeline.warehouse.tables import create_table
from metering_pipeline.warehouse.topology import dedup_token

LEDGER = "export_ledger"
REVISIONS = "export_revisions"

DDL = {
    LEDGER: """
        hour DateTime('UTC'), revision UInt32, record_id UUID, object_key String,
        object_sha256 String, object_bytes UInt64, tenant_id String, billing_account_id String,
        meter LowCardinality(String), event_type LowCardinality(String), unit LowCardinality(String),
        dimensions Map(String, String), window_start DateTime('UTC'), window_end DateTime('UTC'),
        quantity Decimal(38, 9), event_count Int64, catalog_hash String, exported_at DateTime('UTC')
    """,
    REVISIONS: """
        hour DateTime('UTC'), revision UInt32, records UInt64, objects UInt64,
        manifest_key String, catalog_hash String, committed_at DateTime('UTC')
    """,
}
ORDER = {LEDGER: "(hour, revision, record_id)", REVISIONS: "(hour, revision)"}
LEDGER_COLUMNS = [
    "hour",
    "revision",
    "record_id",
    "object_key",
    "object_sha256",
    "object_bytes",
    "tenant_id",
    "billing_account_id",
    "meter",
    "event_type",
    "unit",
    "dimensions",
    "window_start",
    "window_end",
    "quantity",
    "event_count",
    "catalog_hash",
    "exported_at",
]
REVISION_COLUMNS = ["hour", "revision", "records", "objects", "manifest_key", "catalog_hash", "committed_at"]
HOUR = "hour = {hour:DateTime('UTC')}"


@dataclass(frozen=True)
class LedgerRow:
    revision: int
    key: UsageKey
    amount: Amount
    object_key: str
    object_sha256: str
    object_bytes: int
    catalog_hash: str


def ensure_ledger(client) -> None:
    for table, columns in DDL.items():
        create_table(client, table, columns, f"ReplacingMergeTree PARTITION BY toYYYYMM(hour) ORDER BY {ORDER[table]}")


def _hour(hour: datetime) -> dict:
    return {"hour": hour.replace(tzinfo=None)}


def ledger_rows(client, hour: datetime) -> list[LedgerRow]:
    result = client.query(
        f"SELECT revision, meter, tenant_id, billing_account_id, dimensions, quantity, event_count, event_type, unit, "
        f"object_key, object_sha256, object_bytes, catalog_hash FROM `{LEDGER}` FINAL WHERE {HOUR} "
        f"ORDER BY revision, object_key, record_id",
        parameters=_hour(hour),
    )
    return [
        LedgerRow(rev, UsageKey.of(meter, tenant, account, dims), Amount(qty, int(events), etype, unit), key, sha, size, digest)
        for rev, meter, tenant, account, dims, qty, events, etype, unit, key, sha, size, digest in result.result_rows
    ]


def revision_rows(client, hour: datetime) -> dict[int, str]:
    """{revision: catalog hash} of the committed revisions recorded in export_revisions."""
    result = client.query(f"SELECT revision, catalog_hash FROM `{REVISIONS}` FINAL WHERE {HOUR}", parameters=_hour(hour))
    return dict(result.result_rows)


def committed_revisions(client, hour: datetime) -> set[int]:
    found = client.query(
        f"SELECT DISTINCT revision FROM `{LEDGER}` WHERE {HOUR} UNION DISTINCT SELECT DISTINCT revision FROM `{REVISIONS}` WHERE {HOUR}",
        parameters=_hour(hour),
    ).result_rows
    return {int(r) for (r,) in found}


class ConcurrentExport(RuntimeError):
    """Another export committed a revision of this hour while this one was writing."""


def record_rows(objects: list[PlannedObject], hour: datetime, window_end: datetime, catalog_hash: str) -> list[list]:
    """Ledger rows (without exported_at) for the records of written objects."""
    return [
        [
            hour,
            r.revision,
            uuid.UUID(r.id),
            o.key,
            o.sha256,
            len(o.body),
            r.key.tenant_id,
            r.key.billing_account_id,
            r.key.meter,
            r.amount.event_type,
            r.amount.unit,
            dict(r.key.dimensions),
            hour,
            window_end,
            r.amount.quantity,
            r.amount.event_count,
            catalog_hash,
        ]
        for o in objects
        for r in o.records
    ]


def commit(client, hour: datetime, revision: int, rows: list[list], manifest_key: str, catalog_hash: str, objects: int) -> None:
    """Record a revision whose objects are all written; refuse if the revision was taken meanwhile."""
    taken = committed_revisions(client, hour)
    if revision in taken or revision != (max(taken) + 1 if taken else 0):
        raise ConcurrentExport(f"revision {revision} of {hour:%Y-%m-%d %H:00} conflicts with committed {sorted(taken)}")
    now = datetime.now(UTC).replace(microsecond=0)
    token = f"{hour:%Y%m%d%H}-{revision}"  # a retried commit of this revision is one insert, whatever its `now`
    if rows:
        client.insert(LEDGER, [row + [now] for row in rows], column_names=LEDGER_COLUMNS, settings=dedup_token(client, f"ledger-{token}"))
    client.insert(
        REVISIONS,
        [[hour, revision, len(rows), objects, manifest_key, catalog_hash, now]],
        column_names=REVISION_COLUMNS,
        settings=dedup_token(client, f"revision-{token}"),
    )


def repair_revisions(client, hour: datetime, rows: list[LedgerRow], manifest_key_for) -> list[int]:
    """Add the export_revisions row of any revision whose ledger insert landed but whose revision row did not."""
    known = revision_rows(client, hour)
    missing: dict[int, list[LedgerRow]] = {}
    for row in rows:
        if row.revision not in known:
            missing.setdefault(row.revision, []).append(row)
    now = datetime.now(UTC).replace(microsecond=0)
    for revision, group in sorted(missing.items()):
        client.insert(
            REVISIONS,
            [[hour, revision, len(group), len({r.object_key for r in group}), manifest_key_for(revision), group[0].catalog_hash, now]],
            column_names=REVISION_COLUMNS,
        )
    return sorted(missing)
