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

Each export grain (grain.py) has its own pair of tables: `export_ledger` / `export_revisions`
for the hour, `export_ledger_quarter_hour` / `export_revisions_quarter_hour` for 15-minute
windows, same columns. `hour` is always the partition hour and the window is in `window_start`
/ `window_end`, so a revision is still one per partition hour and a late file that changes one
quarter hour adds a revision holding only that window's deltas.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from metering_pipeline.export.amounts import Amount, UsageKey
from metering_pipeline.export.chunks import PlannedObject
from metering_pipeline.export.grain import HOUR, Grain
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
AT_HOUR = "hour = {hour:DateTime('UTC')}"


@dataclass(frozen=True)
class LedgerRow:
    revision: int
    key: UsageKey
    amount: Amount
    object_key: str
    object_sha256: str
    object_bytes: int
    catalog_hash: str
    window_start: datetime


def ledger_tables(grain: Grain = HOUR) -> dict[str, str]:
    """{table kind (LEDGER or REVISIONS): the grain's table of that kind}; the hour's are the plain names."""
    return {kind: f"{kind}_{grain.suffix}" if grain.suffix else kind for kind in DDL}


def ensure_ledger(client, grain: Grain = HOUR) -> None:
    for kind, table in ledger_tables(grain).items():
        create_table(client, table, DDL[kind], f"ReplacingMergeTree PARTITION BY toYYYYMM(hour) ORDER BY {ORDER[kind]}")


def _hour(hour: datetime) -> dict:
    return {"hour": hour.replace(tzinfo=None)}


def ledger_rows(client, hour: datetime, grain: Grain = HOUR) -> list[LedgerRow]:
    result = client.query(
        f"SELECT revision, meter, tenant_id, billing_account_id, dimensions, quantity, event_count, event_type, unit, "
        f"object_key, object_sha256, object_bytes, catalog_hash, window_start FROM `{ledger_tables(grain)[LEDGER]}` FINAL "
        f"WHERE {AT_HOUR} ORDER BY revision, object_key, record_id",
        parameters=_hour(hour),
    )
    return [
        LedgerRow(
            rev, UsageKey.of(meter, tenant, account, dims), Amount(qty, int(events), etype, unit), key, sha, size, digest, _utc(start)
        )
        for rev, meter, tenant, account, dims, qty, events, etype, unit, key, sha, size, digest, start in result.result_rows
    ]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def revision_rows(client, hour: datetime, grain: Grain = HOUR) -> dict[int, str]:
    """{revision: catalog hash} of the committed revisions recorded in export_revisions."""
    table = ledger_tables(grain)[REVISIONS]
    result = client.query(f"SELECT revision, catalog_hash FROM `{table}` FINAL WHERE {AT_HOUR}", parameters=_hour(hour))
    return dict(result.result_rows)


def committed_revisions(client, hour: datetime, grain: Grain = HOUR) -> set[int]:
    tables = ledger_tables(grain)
    found = client.query(
        f"SELECT DISTINCT revision FROM `{tables[LEDGER]}` WHERE {AT_HOUR} "
        f"UNION DISTINCT SELECT DISTINCT revision FROM `{tables[REVISIONS]}` WHERE {AT_HOUR}",
        parameters=_hour(hour),
    ).result_rows
    return {int(r) for (r,) in found}


class ConcurrentExport(RuntimeError):
    """Another export committed a revision of this hour while this one was writing."""


def record_rows(objects: list[PlannedObject], hour: datetime, catalog_hash: str) -> list[list]:
    """Ledger rows (without exported_at) for the records of written objects, each with its record's window."""
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
            r.window.start,
            r.window.end,
            r.amount.quantity,
            r.amount.event_count,
            catalog_hash,
        ]
        for o in objects
        for r in o.records
    ]


def commit(
    client, hour: datetime, revision: int, rows: list[list], manifest_key: str, catalog_hash: str, objects: int, grain: Grain = HOUR
) -> None:
    """Record a revision whose objects are all written; refuse if the revision was taken meanwhile."""
    tables = ledger_tables(grain)
    taken = committed_revisions(client, hour, grain)
    if revision in taken or revision != (max(taken) + 1 if taken else 0):
        raise ConcurrentExport(f"revision {revision} of {hour:%Y-%m-%d %H:00} conflicts with committed {sorted(taken)}")
    now = datetime.now(UTC).replace(microsecond=0)
    token = f"{hour:%Y%m%d%H}-{revision}"  # a retried commit of this revision is one insert, whatever its `now`
    if rows:
        client.insert(
            tables[LEDGER], [row + [now] for row in rows], column_names=LEDGER_COLUMNS, settings=dedup_token(client, f"ledger-{token}")
        )
    client.insert(
        tables[REVISIONS],
        [[hour, revision, len(rows), objects, manifest_key, catalog_hash, now]],
        column_names=REVISION_COLUMNS,
        settings=dedup_token(client, f"revision-{token}"),
    )


def repair_revisions(client, hour: datetime, rows: list[LedgerRow], manifest_key_for, grain: Grain = HOUR) -> list[int]:
    """Add the export_revisions row of any revision whose ledger insert landed but whose revision row did not."""
    known = revision_rows(client, hour, grain)
    missing: dict[int, list[LedgerRow]] = {}
    for row in rows:
        if row.revision not in known:
            missing.setdefault(row.revision, []).append(row)
    now = datetime.now(UTC).replace(microsecond=0)
    for revision, group in sorted(missing.items()):
        client.insert(
            ledger_tables(grain)[REVISIONS],
            [[hour, revision, len(group), len({r.object_key for r in group}), manifest_key_for(revision), group[0].catalog_hash, now]],
            column_names=REVISION_COLUMNS,
        )
    return sorted(missing)
