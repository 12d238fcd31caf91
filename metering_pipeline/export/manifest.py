"""The manifest of one (partition, revision): written last, it is what tells downstream the revision is whole.

Built only from the ledger (never from in-memory state), so the manifest written after a
commit and one rebuilt after a crash between commit and manifest are byte-identical.
Keys in it are relative to the export root (the folder holding `_manifests/`).
"""

import json

from metering_pipeline.export.layout import rfc3339
from metering_pipeline.export.ledger import LedgerRow
from metering_pipeline.export.quantity import quantity_text, total
from metering_pipeline.export.records import Window, kind_of

CONTENT_TYPE = "application/json"


def build_manifest(window: Window, revision: int, catalog_hash: str, rows: list[LedgerRow]) -> dict:
    objects: dict[str, list[LedgerRow]] = {}
    for row in rows:
        objects.setdefault(row.object_key, []).append(row)
    meters: dict[str, list[LedgerRow]] = {}
    for row in rows:
        meters.setdefault(row.key.meter, []).append(row)
    return {
        "partition_key": window.partition_key,
        "window_start": rfc3339(window.start),
        "window_end": rfc3339(window.end),
        "revision": revision,
        "kind": kind_of(revision),
        "catalog_hash": catalog_hash,
        "records": len(rows),
        "objects": [
            {
                "key": key,
                "meter": group[0].key.meter,
                "unit": group[0].amount.unit,
                "records": len(group),
                "bytes": group[0].object_bytes,
                "sha256": group[0].object_sha256,
                "quantity_sum": quantity_text(total(r.amount.quantity for r in group)),
            }
            for key, group in sorted(objects.items())
        ],
        "quantity_sums": {meter: quantity_text(total(r.amount.quantity for r in group)) for meter, group in sorted(meters.items())},
    }


def serialize_manifest(manifest: dict) -> bytes:
    return (json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode("utf-8")


def parse_manifest(body: bytes) -> dict:
    return json.loads(body.decode("utf-8"))
