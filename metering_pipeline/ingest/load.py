"""Landing files -> a staging table of numbered raw lines, in bounded chunks.

Python finds line boundaries (numpy, once, in the reader) and guards limits, then hands each
chunk to ClickHouse as one Arrow insert that does not copy the lines: value i of the binary
column `raw_nl` is line i with its b"\n", so the chunk's bytes are the column's data as they
are, with the line ends as its offsets. The table drops that b"\n" as it stores the rows
(`raw_nl` is EPHEMERAL, `raw` its DEFAULT: plain SQL, the same on chDB and on a server).
Each line gets a `row` key, (file index << 32) | line number, so ordering by row is ordering
by (file name, line). Blank lines (nothing, or only RE2 `\\s` = [\t\n\f\r ] bytes: what
`match(raw, '^\\s*$')` finds) are left out and the other lines keep their numbers.
"""

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyarrow as pa

from metering_pipeline.ingest.prefetch import prefetch
from metering_pipeline.ingest.reader import KEEP_RAW_BYTES, Chunk, FileFault, Oversized, iter_file
from metering_pipeline.resources.landing import FileVanished, LandingFile, LandingZone, describe_open_error

LINES_COLUMNS = (
    "row UInt64, landing_source LowCardinality(String), source_file String, line_no UInt32, "
    "raw_nl String EPHEMERAL '', raw String DEFAULT substring(raw_nl, 1, length(raw_nl) - 1)"
)

_SPACE = np.zeros(256, dtype=bool)
_SPACE[list(b"\t\n\f\r ")] = True  # RE2's \s; a line's own b"\n" counts, so an empty line is one too
BATCH_BYTES = 16 << 20  # chunks of small files are inserted together up to about this size (reader.CHUNK_BYTES)
_VECTOR_STEPS = 4  # leading whitespace followed byte by byte this far, then the rest of each line at once


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


def insert_early(client, quarantine: str, early: list[EarlyVerdict], hour: datetime, loaded_at: datetime) -> None:
    """The verdicts the Python reader gave before any line was stored, as rows of a staging `quarantine`."""
    client.insert(
        quarantine,
        [
            [
                hour.replace(tzinfo=None),
                e.landing_source,
                e.source_file,
                e.line_no,
                e.reason,
                e.detail,
                e.raw[:KEEP_RAW_BYTES],
                e.raw_bytes,
                loaded_at,
            ]
            for e in early
        ],
        column_names=["hour", "landing_source", "source_file", "line_no", "reason", "detail", "raw", "raw_bytes", "loaded_at"],
    )


class _Batch:
    """Chunks gathered into inserts of about BATCH_BYTES: each insert has a fixed cost (~10 ms on
    chDB), which an hour landed as thousands of small files would otherwise pay per file."""

    def __init__(self, client, lines: str):
        self.client, self.lines = client, lines
        self.tables: list[pa.Table] = []
        self.size = 0

    def add(self, table: pa.Table, size: int) -> None:
        if table.num_rows:
            self.tables.append(table)
            self.size += size
        if self.size >= BATCH_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.tables:
            # One Arrow file holds one dictionary per column: the chunks' one-value dictionaries are merged.
            self.client.insert_arrow(self.lines, pa.concat_tables(self.tables).unify_dictionaries())
        self.tables, self.size = [], 0


def load_files(
    client, landing: LandingZone, sources: list[tuple[str, LandingFile]], lines: str, only: set[str] | None = None, **limits
) -> LoadReport:
    """Load every (landing source, file) pair, in name order, into the `lines` staging table (LINES_COLUMNS).

    With `only`, just the files of those names are read (the engine reads the others,
    ingest/engine.py); each keeps its index among all the pairs, so `row` orders them all.
    """
    ordered = sorted(sources, key=lambda pair: pair[1].name)
    report = LoadReport(files=[landed for _, landed in ordered], stored_bytes=sum(landed.size for _, landed in ordered))
    batch = _Batch(client, lines)
    for file_index, landing_source, landed, item in prefetch(_read(landing, ordered, limits, only)):
        if isinstance(item, Chunk):
            _load_chunk(batch, file_index, landing_source, landed.name, item)
        elif isinstance(item, Oversized):
            report.early.append(
                EarlyVerdict(
                    landing_source,
                    landed.name,
                    item.line_no,
                    "oversized",
                    f"line of {item.size} bytes is over the 1 MiB limit",
                    item.head,
                    item.size,
                )
            )
        elif isinstance(item, FileFault):
            report.early.append(EarlyVerdict(landing_source, landed.name, item.line_no, item.reason, item.detail))
        else:  # gone or unreadable since it was listed: the whole file is the fault
            report.early.append(EarlyVerdict(landing_source, landed.name, 1, "unreadable_file", describe_open_error(item)))
    batch.flush()
    return report


def _read(landing: LandingZone, ordered: list[tuple[str, LandingFile]], limits: dict, only: set[str] | None):
    """(file index, landing source, file, item) for each file's chunks and faults; item is the error if it cannot be opened."""
    for file_index, (landing_source, landed) in enumerate(ordered):
        if only is not None and landed.name not in only:
            continue
        try:
            stream = landing.open(landed)
        except (OSError, FileVanished) as exc:
            yield file_index, landing_source, landed, exc
            continue
        with stream:
            for item in iter_file(stream, landed.compressed, **limits):
                yield file_index, landing_source, landed, item


def _load_chunk(batch: _Batch, file_index: int, landing_source: str, name: str, item: Chunk) -> None:
    batch.add(chunk_table(item, file_index, landing_source, name), len(item.data))


def chunk_table(item: Chunk, file_index: int, landing_source: str, name: str) -> pa.Table:
    """The chunk's non-blank lines as Arrow columns row, landing_source, source_file, line_no, raw_nl."""
    count, size = item.line_count, len(item.data)
    wide = size >= 1 << 31
    offsets = np.empty(count + 1, dtype=np.int64 if wide else np.int32)
    offsets[0] = 0
    offsets[1:] = item.ends + 1
    raw_nl = pa.Array.from_buffers(
        pa.large_binary() if wide else pa.binary(), count, [None, pa.py_buffer(offsets), pa.py_buffer(item.data)]
    )
    line_no = np.arange(item.first_line_no, item.first_line_no + count, dtype=np.uint32)
    row = line_no.astype(np.uint64) | np.uint64(file_index << 32)
    same = _numbers(pa.int32(), np.zeros(count, dtype=np.int32))
    table = pa.Table.from_arrays(
        [
            _numbers(pa.uint64(), row),
            pa.DictionaryArray.from_arrays(same, _one_string(landing_source)),
            pa.DictionaryArray.from_arrays(same, _one_string(name)),
            _numbers(pa.uint32(), line_no),
            raw_nl,
        ],
        names=["row", "landing_source", "source_file", "line_no", "raw_nl"],
    )
    blank = blank_lines(item.data, offsets)
    return table.take(_numbers(pa.int64(), np.flatnonzero(~blank))) if blank is not None else table


def _numbers(kind: pa.DataType, values: np.ndarray) -> pa.Array:
    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])  # zero-copy; pa.array would also import pandas (0.8 s)


def _one_string(text: str) -> pa.Array:
    value = text.encode()
    return pa.Array.from_buffers(pa.string(), 1, [None, pa.py_buffer(np.array([0, len(value)], dtype=np.int32)), pa.py_buffer(value)])


def blank_lines(data: bytes, offsets: np.ndarray) -> np.ndarray | None:
    """Mask of the lines (offsets[i]..offsets[i+1], each ending in b"\\n") made of whitespace only; None if there are none.

    Only a line whose first byte is whitespace can be blank (an empty line's first byte is its
    b"\\n"): those few are followed byte by byte, vectorised; lines still going after a few
    steps (long indentation, pretty-printed JSON) are settled at once by whether any byte left
    before their b"\\n" is not whitespace.
    """
    view = np.frombuffer(data, dtype=np.uint8)
    if len(offsets) < 2:
        return None
    candidates = np.flatnonzero(_SPACE[view[offsets[:-1]]])
    if not len(candidates):
        return None
    mask = np.zeros(len(offsets) - 1, dtype=bool)
    at, last = offsets[candidates].astype(np.int64), offsets[candidates + 1].astype(np.int64) - 1  # last = the b"\\n"
    for _ in range(_VECTOR_STEPS):
        done = at == last
        mask[candidates[done]] = True
        going = ~done & _SPACE[view[at]]
        candidates, at, last = candidates[going], at[going] + 1, last[going]
        if not len(candidates):
            return mask if mask.any() else None
    done = at == last
    mask[candidates[done]] = True
    candidates, at, last = candidates[~done], at[~done], last[~done]
    if not len(candidates):
        return mask if mask.any() else None
    low = int(at[0])
    bounds = np.empty(2 * len(candidates), dtype=np.int64)  # [at, last) of each, in order, none empty (at < last)
    bounds[0::2], bounds[1::2] = at - low, last - low
    solid = np.logical_or.reduceat(~_SPACE[view[low : int(last[-1])]], bounds[:-1])[0::2]
    mask[candidates[~solid]] = True
    return mask if mask.any() else None
