"""Committing a revision to the ledger, after its objects are written; repairing a half-committed one.

The ledger rows go in ONE insert (one block, one monthly partition: one part, so the
revision's records appear all at once or not at all), then the export_revisions row.
A revision found in either table is committed (ledger.committed_revisions), and
`repair_revisions` adds the revision row a crash between the two inserts left out.
"""

import uuid
from datetime import datetime, timezone

from metering_pipeline.export.chunks import PlannedObject
from metering_pipeline.export.ledger import (
    LEDGER, LEDGER_COLUMNS, REVISION_COLUMNS, REVISIONS, LedgerRow, committed_revisions, revision_rows,
)


class ConcurrentExport(RuntimeError):
    """Another export committed a revision of this hour while this one was writing."""


def record_rows(objects: list[PlannedObject], hour: datetime, window_end: datetime, catalog_hash: str) -> list[list]:
    """Ledger rows (without exported_at) for the records of written objects."""
    return [
        [hour, r.revision, uuid.UUID(r.id), o.key, o.sha256, len(o.body), r.key.tenant_id, r.key.billing_account_id, r.key.meter,
         r.amount.event_type, r.amount.unit, dict(r.key.dimensions), hour, window_end, r.amount.quantity,
         r.amount.event_count, catalog_hash]
        for o in objects for r in o.records
    ]


def commit(client, hour: datetime, revision: int, rows: list[list], manifest_key: str, catalog_hash: str, objects: int) -> None:
    """Record a revision whose objects are all written; refuse if the revision was taken meanwhile."""
    taken = committed_revisions(client, hour)
    if revision in taken or revision != (max(taken) + 1 if taken else 0):
        raise ConcurrentExport(f"revision {revision} of {hour:%Y-%m-%d %H:00} conflicts with committed {sorted(taken)}")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    if rows:
        client.insert(LEDGER, [row + [now] for row in rows], column_names=LEDGER_COLUMNS)
    client.insert(
        REVISIONS, [[hour, revision, len(rows), objects, manifest_key, catalog_hash, now]],
        column_names=REVISION_COLUMNS,
    )


def repair_revisions(client, hour: datetime, rows: list[LedgerRow], manifest_key_for) -> list[int]:
    """Add the export_revisions row of any revision whose ledger insert landed but whose revision row did not."""
    known = revision_rows(client, hour)
    missing: dict[int, list[LedgerRow]] = {}
    for row in rows:
        if row.revision not in known:
            missing.setdefault(row.revision, []).append(row)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for revision, group in sorted(missing.items()):
        client.insert(
            REVISIONS, [[hour, revision, len(group), len({r.object_key for r in group}), manifest_key_for(revision),
                         group[0].catalog_hash, now]],
            column_names=REVISION_COLUMNS,
        )
    return sorted(missing)
