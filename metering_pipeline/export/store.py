"""What the store holds for an hour: manifests, data objects, and the keys an export holds.

The manifest of one (partition, revision) is written last: it is what tells downstream the
revision is whole. It is built only from the ledger (never from in-memory state), so the
manifest written after a commit and one rebuilt after a crash between commit and manifest
are byte-identical. Keys in it are relative to the export root (the folder holding
`_manifests/`). The hour's data objects are listed over every meter folder, for the checks
and for the sweep of objects no committed revision owns.
"""

import json
import re
from datetime import datetime

from metering_pipeline.export.amounts import quantity_text, total
from metering_pipeline.export.grain import GRAINS, HOUR, Grain, GrainConflict
from metering_pipeline.export.layout import DRAFTS, OBJECT_SUFFIX, manifest_key, manifest_prefix, window_path
from metering_pipeline.export.ledger import LedgerRow, committed_revisions, ensure_ledger, ledger_rows
from metering_pipeline.export.records import Window, kind_of, rfc3339, window_of

CONTENT_TYPE = "application/json"
_OBJECT_NAME = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}" + re.escape(OBJECT_SUFFIX) + "$")


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


def hour_objects(store, window_start: datetime, grain: Grain = HOUR) -> dict[str, int]:
    """{key: size} of everything under `<meter-folder>/YYYY/MM/DD/HH/mm/`, over all meter folders and
    the minutes `mm` of the grain's windows (`00`; `00`, `15`, `30`, `45`).

    Folders starting with `_` are the exporter's own (`_manifests`, `_draft`, whose meter
    folders are listed too); no meter folder can
    start with `_` (it is encoded), so skipping them skips no meter.
    """
    found: dict[str, int] = {}
    starts = grain.starts(window_start)
    for root in ("", f"{DRAFTS}/"):
        for folder in store.folders(root):
            if not folder.startswith("_"):
                for start in starts:
                    found.update(store.keys(f"{root}{folder}/{window_path(start)}/"))
    return found


def hour_manifests(store, window_start: datetime, grain: Grain = HOUR) -> dict[str, dict]:
    """{manifest key: parsed manifest} for the hour."""
    keys = sorted(store.keys(manifest_prefix(window_start, grain.suffix)))
    return {key: parse_manifest(store.get(key)) for key in keys}


def refuse_other_grains(store, hour_start: datetime, grain: Grain) -> None:
    """Fail when the store holds another grain's manifests for the hour: both grains key objects under
    the same minute-00 folders, so each one's sweep would take the other's objects for leftovers.
    One destination has one grain; two grains of one hour go to two destinations."""
    for other in GRAINS.values():
        if other != grain and store.keys(manifest_prefix(hour_start, other.suffix)):
            raise GrainConflict(
                f"{hour_start:%Y-%m-%d %H:00} is already exported at the {other.name} grain to this destination; "
                f"export the {grain.name} grain to another destination (METERING_EXPORT_URL) or keep METERING_EXPORT_GRAIN={other.name}"
            )


def is_export_object(key: str) -> bool:
    return bool(_OBJECT_NAME.match(key.rsplit("/", 1)[-1]))


def sweep(store, window_start: datetime, keep: set[str], grain: Grain = HOUR) -> list[str]:
    """Delete the hour's export objects that no committed or planned revision owns.

    Only a crashed attempt leaves such objects (written, never committed, and then not
    re-planned because usage changed before the retry). No manifest lists them, so no
    reader relies on them. Files not named like export objects are left for the check.
    """
    removed = [key for key in sorted(hour_objects(store, window_start, grain)) if key not in keep and is_export_object(key)]
    for key in removed:
        store.delete(key)
    return removed


def exported_keys(clickhouse, partition_keys, export_store=None) -> list[str]:
    """Object keys then manifest keys of every committed revision, per partition in order, from the
    ledger of the store's grain (the hour without a store): for the demo and for operators.

    Keys are relative to the export root; pass the ExportStore to get full locations
    (`s3://bucket/prefix/...` or absolute local paths).
    """
    keys: list[str] = []
    grain = export_store.export_grain if export_store is not None else HOUR
    with clickhouse.get_client(purpose="export listing") as client:
        ensure_ledger(client, grain)
        for partition_key in partition_keys:
            start = window_of(partition_key).start
            rows = ledger_rows(client, start, grain)
            first = {}
            for row in rows:
                first.setdefault(row.object_key, row.revision)
            keys += sorted(first, key=lambda k: (first[k], k))
            keys += [manifest_key(start, revision, grain.suffix) for revision in sorted(committed_revisions(client, start, grain))]
    if export_store is None:
        return keys
    store = export_store.open()
    return [store.location(key) for key in keys]
