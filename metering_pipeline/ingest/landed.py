"""What landed and was read, per file: the starting figures of the hour's reconciliation report.

Written to the hour's staging copy of `landed_files` (swapped with the hour like `events`), so
the report can tie every line read to an outcome table: lines_read of a file == its accepted
lines (in `events`) + duplicate lines (in `duplicates`, not in `events`) + quarantined lines.
"""

from collections import Counter
from datetime import datetime


def record_landed(client, staged: str, lines: str, loaded, hour: datetime, loaded_at: datetime, engine_read: dict[str, int]) -> None:
    """One row per landed file: its size and version as listed, and the lines read from it: the engine's census
    for the files it read in place (`engine_read`, ingest/engine.py), else those in the `lines` staging table
    plus the ones quarantined before it (oversized lines, file faults)."""
    read = Counter(dict(client.query(f"SELECT source_file, count() FROM `{lines}` GROUP BY source_file").result_rows))
    read.update(e.source_file for e in loaded.early)
    read.update(engine_read)
    rows = [  # a file's name starts with its landing source's folder (resources/landing.py hour_prefix)
        [
            hour.replace(tzinfo=None),
            landed.name.split("/", 1)[0],
            landed.name,
            landed.size,
            landed.version,
            read.get(landed.name, 0),
            loaded_at,
        ]
        for landed in loaded.files
    ]
    if rows:
        client.insert(staged, rows, column_names=["hour", "landing_source", "source_file", "bytes", "version", "lines_read", "loaded_at"])
