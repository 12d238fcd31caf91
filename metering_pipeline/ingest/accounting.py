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


def _of(landed: str, per_file: str) -> str:
    """`per_file` (a query with a `source_file` column) with each file's landing source from `landed`.
    A file missing from `landed` keeps an empty source, so it breaks the per-source reconciliation visibly."""
    return f"SELECT l.landing_source AS landing_source, f.* FROM ({per_file}) AS f LEFT JOIN `{landed}` AS l USING (source_file)"


def source_figures(
    client, events: str, accepted: list[FileAccepted], quarantine: str, dropped: str, landed: str
) -> dict[str, SourceFigures]:
    """{landing source: figures} of the hour held in the staging tables `events` (and `accepted`, its
    accepted_by_file), `quarantine`, `dropped` (`duplicates`) and `landed` (`landed_files`)."""
    found: dict[str, SourceFigures] = {}

    def at(source: str) -> SourceFigures:
        return found.setdefault(source, SourceFigures())

    landing_source = {}
    for name, source, lines in client.query(f"SELECT source_file, landing_source, lines_read FROM `{landed}`").result_rows:
        landing_source[name] = source
        at(source).lines_read += int(lines)
    for f in accepted:
        figures = at(landing_source.get(f.source_file, ""))
        figures.accepted += f.lines
        figures.events.update(f.by_type)
    # A duplicate line: a dropped copy on record and no accepted event (as duplicates.duplicate_lines_on_record counts the hour).
    duplicate_lines = (
        f"SELECT source_file, count() AS lines FROM (SELECT DISTINCT source_file, line_no FROM `{dropped}` "
        f"WHERE (source_file, line_no) NOT IN (SELECT source_file, line_no FROM `{events}` "
        f"WHERE source_file IN (SELECT source_file FROM `{dropped}`) AND line_no IN (SELECT line_no FROM `{dropped}`))) "
        "GROUP BY source_file"
    )
    rows = client.query(f"SELECT landing_source, sum(lines) FROM ({_of(landed, duplicate_lines)}) GROUP BY landing_source").result_rows
    for source, lines in rows:
        at(source).duplicates = int(lines)
    for source, reason, lines in client.query(
        f"SELECT landing_source, reason, count() FROM `{quarantine}` GROUP BY landing_source, reason"
    ).result_rows:
        at(source).quarantined[reason] = int(lines)
    return found
