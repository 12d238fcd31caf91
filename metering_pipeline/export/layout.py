"""Where things go under the export root: `<meter-folder>/YYYY/MM/DD/HH/mm/<object-id>.jsonl`.

A meter folder is the meter name with every character outside `[A-Za-z0-9._-]` percent-
encoded (UTF-8 bytes, upper-case hex), so a name can never add a path level, climb out of
the root or clash with another name. Two more characters are encoded when they lead the
name: `.` (so `.` and `..` are never path traversal and no folder is hidden) and `_`
(folders starting with `_` are reserved for the exporter, e.g. `_manifests`). Decoding
with `urllib.parse.unquote` gives the name back. `mm` is the window's minute: `00` for the
hourly grain, `00`/`15`/`30`/`45` for the quarter-hour grain, whose manifests live under
`_manifests/quarter_hour/` (grain.py). Draft meters (catalog `phase: draft`) go under `_draft/` so billing
systems reading meter folders never see them. Keys are relative to the export root;
the store prepends `s3://bucket/prefix` or the local directory.
"""

from datetime import datetime
from urllib.parse import unquote

SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
LEADING_ENCODED = frozenset("._")
MAX_FOLDER_BYTES = 255  # a single path component on common filesystems
MANIFESTS = "_manifests"
DRAFTS = "_draft"  # draft meters' objects: `_draft/<meter-folder>/...`, apart from billable ones
OBJECT_SUFFIX = ".jsonl"


def meter_folder(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"a meter name must be a non-empty string: {name!r}")
    parts = []
    for position, char in enumerate(name):
        if char in SAFE and not (position == 0 and char in LEADING_ENCODED):
            parts.append(char)
        else:
            try:
                parts.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
            except UnicodeEncodeError as exc:
                raise ValueError(f"meter name is not valid Unicode text: {name!r}") from exc
    folder = "".join(parts)
    if len(folder) > MAX_FOLDER_BYTES:
        raise ValueError(f"meter name encodes to {len(folder)} bytes, over {MAX_FOLDER_BYTES}: {name[:40]!r}...")
    return folder


def meter_name(folder: str) -> str:
    return unquote(folder, errors="strict")


def window_path(window_start: datetime) -> str:
    """`YYYY/MM/DD/HH/mm`; `mm` is `00` for hourly windows."""
    return f"{window_start:%Y/%m/%d/%H/%M}"


def object_key(meter: str, window_start: datetime, object_id: str, draft: bool = False) -> str:
    key = f"{meter_folder(meter)}/{window_path(window_start)}/{object_id}{OBJECT_SUFFIX}"
    return f"{DRAFTS}/{key}" if draft else key


def manifest_prefix(window_start: datetime, grain_folder: str = "") -> str:
    """`_manifests/YYYY/MM/DD/HH/00/` for the hour; a finer grain's under `_manifests/<grain_folder>/`."""
    folder = f"{MANIFESTS}/{grain_folder}/" if grain_folder else f"{MANIFESTS}/"
    return f"{folder}{window_path(window_start)}/"


def manifest_key(window_start: datetime, revision: int, grain_folder: str = "") -> str:
    return f"{manifest_prefix(window_start, grain_folder)}revision-{revision:06d}.json"
