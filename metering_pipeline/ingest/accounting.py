"""The hour's reconciliation per landing source: lines read, accepted, duplicates and quarantined by reason,
and accepted events by type, each counted in SQL from the hour's staging tables before they are swapped in.

The landing source is the catalog source whose folder a file landed in (`landed_files.landing_source`,
`quarantine.landing_source`); `events.source` is the producer's own attribute (a CloudEvents `source`
URI) and says nothing about where a line landed, so accepted and duplicate lines reach their landing
source through their file. Each figure comes from the table that holds the outcome, not from the
hour's totals, so `lines_read == accepted + duplicates + quarantined` per source is a real check
(metrics, `metering_lines_total{source,outcome}`), not an identity.
"""

from collections import Counter
from dataclasses import dataclass, field

from metering_pipeline.ingest.duplicates import duplicate_lines_by_file


@dataclass
class SourceFigures:
    lines_read: int = 0
    accepted: int = 0  # lines with at least one accepted event
    duplicates: int = 0  # lines whose every event was a dropped copy
    quarantined: Counter = field(default_factory=Counter)  # reason -> lines
    events: Counter = field(default_factory=Counter)  # accepted canonical events by type

    def add(self, other: "SourceFigures") -> None:
        self.lines_read += other.lines_read
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.quarantined.update(other.quarantined)
        self.events.update(other.events)

    def as_metadata(self) -> dict:
        return {
            "lines_read": self.lines_read,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "quarantined": sum(self.quarantined.values()),
            "quarantined_by_reason": dict(sorted(self.quarantined.items())),
            "events_by_type": dict(sorted(self.events.items())),
        }


@dataclass(frozen=True)
class FileAccepted:
    source_file: str
    lines: int  # distinct lines with at least one accepted event
    events: int
    by_type: dict[str, int]


def accepted_by_file(client, events: str) -> list[FileAccepted]:
    """One scan of the hour's accepted events, per file: its accepted lines, events, and events by type.
    The hour's totals and the per-source figures are both summed from it. Lines are counted per file
    (a set of line numbers per file, not one set of 128-bit hashes of (file, line): 5M 0.56 -> 0.18 s)."""
    rows = client.query(
        f"SELECT source_file, uniqExact(line_no), count(), sumMap([toString(type)], [toUInt64(1)]) FROM `{events}` GROUP BY source_file"
    ).result_rows
    return [FileAccepted(name, int(lines), int(n), dict(zip(types, map(int, counts)))) for name, lines, n, (types, counts) in rows]


def source_figures(
    client, events: str, accepted: list[FileAccepted], quarantine: str, dropped: str, landed: str
) -> dict[str, SourceFigures]:
    """{landing source: figures} of the hour held in the staging tables `events` (and `accepted`, its
    accepted_by_file), `quarantine`, `dropped` (`duplicates`) and `landed` (`landed_files`)."""
    found: dict[str, SourceFigures] = {}

    def at(source: str) -> SourceFigures:
        return found.setdefault(source, SourceFigures())

    landing_source = {}  # a file missing from `landed` keeps an empty source: the reconciliation breaks visibly
    for name, source, lines in client.query(f"SELECT source_file, landing_source, lines_read FROM `{landed}`").result_rows:
        landing_source[name] = source
        at(source).lines_read += int(lines)
    for f in accepted:
        figures = at(landing_source.get(f.source_file, ""))
        figures.accepted += f.lines
        figures.events.update(f.by_type)
    for name, lines in client.query(duplicate_lines_by_file(dropped, events)).result_rows:
        at(landing_source.get(name, "")).duplicates += int(lines)
    for source, reason, lines in client.query(
        f"SELECT landing_source, reason, count() FROM `{quarantine}` GROUP BY landing_source, reason"
    ).result_rows:
        at(source).quarantined[reason] = int(lines)
    return found
