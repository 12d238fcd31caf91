"""What the store holds for an hour: its data objects (in every meter folder) and its manifests."""

import re
from datetime import datetime

from metering_pipeline.export.layout import DRAFTS, OBJECT_SUFFIX, manifest_prefix, window_path
from metering_pipeline.export.manifest import parse_manifest

_OBJECT_NAME = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}" + re.escape(OBJECT_SUFFIX) + "$")


def hour_objects(store, window_start: datetime) -> dict[str, int]:
    """{key: size} of everything under `<meter-folder>/YYYY/MM/DD/HH/mm/`, over all meter folders.

    Folders starting with `_` are the exporter's own (`_manifests`, `_draft`, whose meter
    folders are listed too); no meter folder can
    start with `_` (it is encoded), so skipping them skips no meter.
    """
    found: dict[str, int] = {}
    for root in ("", f"{DRAFTS}/"):
        for folder in store.folders(root):
            if not folder.startswith("_"):
                found.update(store.keys(f"{root}{folder}/{window_path(window_start)}/"))
    return found


def hour_manifests(store, window_start: datetime) -> dict[str, dict]:
    """{manifest key: parsed manifest} for the hour."""
    keys = sorted(store.keys(manifest_prefix(window_start)))
    return {key: parse_manifest(store.get(key)) for key in keys}


def is_export_object(key: str) -> bool:
    return bool(_OBJECT_NAME.match(key.rsplit("/", 1)[-1]))


def sweep(store, window_start: datetime, keep: set[str]) -> list[str]:
    """Delete the hour's export objects that no committed or planned revision owns.

    Only a crashed attempt leaves such objects (written, never committed, and then not
    re-planned because usage changed before the retry). No manifest lists them, so no
    reader relies on them. Files not named like export objects are left for the check.
    """
    removed = [key for key in sorted(hour_objects(store, window_start)) if key not in keep and is_export_object(key)]
    for key in removed:
        store.delete(key)
    return removed
