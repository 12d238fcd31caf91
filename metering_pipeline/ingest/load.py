"""Landing files -> a staging table of numbered raw lines, in bounded chunks.

Python only finds line boundaries (numpy) and guards limits; ClickHouse splits and numbers
the lines, which is where bulk byte work is cheapest. Each line gets a `row` key,
(file index << 32) | line number, so ordering by row is ordering by (file name, line).
"""

from dataclasses import dataclass, field

from metering_pipeline.ingest.reader import Chunk, FileFault, Oversized, iter_file
from metering_pipeline.resources.landing import FileVanished, LandingFile, LandingZone, describe_open_error

LINES_COLUMNS = "row UInt64, landing_source LowCardinality(String), source_file String, line_no UInt32, raw String"

_SPLIT = """
INSERT INTO `{lines}` (row, landing_source, source_file, line_no, raw)
SELECT bitOr(bitShiftLeft(toUInt64({{file_index:UInt32}}), 32), toUInt64({{first:UInt32}} + n - 1)),
       {{landing_source:String}}, {{file:String}}, toUInt32({{first:UInt32}} + n - 1), line
FROM (SELECT splitByChar('\\n', blob) AS lines FROM `{chunk}`)
ARRAY JOIN lines AS line, arrayEnumerate(lines) AS n
WHERE NOT match(line, '^\\\\s*$')
"""


@dataclass
class EarlyVerdict:
    """A line (or the rest of a file) quarantined before it reached the warehouse."""

    landing_source: str
    source_file: str
    line_no: int
    reason: str
    detail: str
    raw: bytes = b""
    raw_bytes: int = 0


@dataclass
class LoadReport:
    files: list[LandingFile] = field(default_factory=list)
    early: list[EarlyVerdict] = field(default_factory=list)
    stored_bytes: int = 0


def load_files(client, landing: LandingZone, sources: list[tuple[str, LandingFile]], lines: str, chunk: str, **limits) -> LoadReport:
    """Load every (landing source, file) pair, in name order, into the `lines` staging table."""
    report = LoadReport()
    for file_index, (landing_source, landed) in enumerate(sorted(sources, key=lambda pair: pair[1].name)):
        report.files.append(landed)
        report.stored_bytes += landed.size
        try:
            stream = landing.open(landed)
        except (OSError, FileVanished) as exc:  # gone or unreadable since it was listed: the whole file is the fault
            report.early.append(EarlyVerdict(landing_source, landed.name, 1, "unreadable_file", describe_open_error(exc)))
            continue
        with stream:
            for item in iter_file(stream, landed.compressed, **limits):
                if isinstance(item, Chunk):
                    _load_chunk(client, lines, chunk, file_index, landing_source, landed.name, item)
                elif isinstance(item, Oversized):
                    report.early.append(EarlyVerdict(landing_source, landed.name, item.line_no, "oversized",
                                                     f"line of {item.size} bytes is over the 1 MiB limit", item.head, item.size))
                elif isinstance(item, FileFault):
                    report.early.append(EarlyVerdict(landing_source, landed.name, item.line_no, item.reason, item.detail))
    return report


def _load_chunk(client, lines: str, chunk: str, file_index: int, landing_source: str, name: str, item: Chunk) -> None:
    client.raw_insert(chunk, ["blob"], insert_block=item.data, fmt="RawBLOB")
    client.command(
        _SPLIT.format(lines=lines, chunk=chunk),
        parameters={"file_index": file_index, "first": item.first_line_no, "landing_source": landing_source, "file": name},
    )
    client.command(f"TRUNCATE TABLE `{chunk}`")
