"""Engine-side reading: ClickHouse reads the hour's landing files in place, with file() or s3().

The Python reader (reader.py, load.py) pushes every landed byte through the pipeline's
process into a `lines` work table. Here the engine reads the files itself (format
LineAsString, gzip detected by the engine), so the mapping runs in the same INSERT ... SELECT
and no event byte crosses the Python process; on a server, `s3Cluster` spreads the files
over the cluster's nodes.

Every guarantee of the Python reader holds, by reading each file in three passes that all
see the same lines (`_path`, and `_row_number` + 1 as the line number):
1. `census`: per file, the lines (blank ones left out, exactly as load.py leaves them out)
   and the decompressed bytes. This is the independent line count the reconciliation needs,
   and the test of whether the engine can give the file the Python reader's treatment: a
   file the engine cannot read (corrupt or truncated gzip, a line past the statement's
   memory bound) fails the statement naming the file, and a file past the decompression
   limit shows its size; either goes to the Python reader, which quarantines exactly as it
   always has, *for that file only*.
2. the mapping (canonical.py) reads the lines of at most MAX_LINE_BYTES;
3. the quarantine reads them again, and keeps the raw text only of the lines it rejects,
   oversized lines included.
A file that changes between the passes would make them disagree, so the listing is compared
again before the hour is swapped in (`LandingChanged`).
"""

import re
from dataclasses import dataclass, field
from datetime import datetime

from metering_pipeline.ingest.reader import KEEP_RAW_BYTES, MAX_DECOMPRESSED_BYTES, MAX_LINE_BYTES
from metering_pipeline.resources.landing import LandingFile, LandingZone
from metering_pipeline.warehouse.tables import IDENTIFIER

# The engine's memory for one reading statement: a line far past MAX_LINE_BYTES, or a gzip bomb
# of one endless line, fails the statement (naming the file) instead of exhausting the process.
ENGINE_MEMORY_BYTES = 4 << 30
BLANK = "match({line}, '^\\\\s*$')"  # RE2's \s, the blank-line rule of load.py
_FILE_IN_ERROR = re.compile(r"\(in file/uri ([^)]*)\)")


class LandingChanged(RuntimeError):
    """A landed file changed while the engine read the hour; rerun the hour."""


@dataclass(frozen=True)
class EngineFile:
    index: int  # position among all the hour's files in name order: the high 32 bits of `row`
    landing_source: str
    landed: LandingFile
    path: str  # as the engine's `_path` names it


@dataclass
class EngineRead:
    """The hour's files the engine reads, per landing source, and those left to the Python reader (with why)."""

    files: dict[str, list[EngineFile]] = field(default_factory=dict)
    globs: dict[str, str] = field(default_factory=dict)
    fallback: dict[str, str] = field(default_factory=dict)  # file name -> why the Python reader reads it
    lines: dict[str, int] = field(default_factory=dict)  # landing source -> non-blank lines in engine-read files
    file_lines: dict[str, int] = field(default_factory=dict)  # file name -> its non-blank lines, for engine-read files
    function: str = "file"  # file | s3 | s3Cluster
    cluster: str = ""
    collection: str = ""  # a server's named collection holding the S3 credentials
    max_line: int = MAX_LINE_BYTES

    @property
    def engine_files(self) -> list[EngineFile]:
        return [f for files in self.files.values() for f in files]

    def drop(self, name: str, why: str) -> None:
        for source, files in self.files.items():
            self.files[source] = [f for f in files if f.landed.name != name]
        self.fallback[name] = why

    def table_function(self, glob_param: str) -> str:
        """The reading table function; the glob is a bound parameter, and no credential is ever part of the text."""
        glob = f"{{{glob_param}:String}}"
        if self.function == "file":
            return f"file({glob}, 'LineAsString')"
        target = f"{self.collection}, url = {glob}, format = 'LineAsString'" if self.collection else f"{glob}, 'LineAsString'"
        if self.function == "s3Cluster":
            return f"s3Cluster({self.cluster}, {target})"
        return f"s3({target})"

    def params(self, source: str, prefix: str) -> dict:
        """The bound values that name the source's engine-read files (names start with `prefix`)."""
        files = self.files.get(source, [])
        return {
            f"{prefix}glob": self.globs.get(source, ""),
            f"{prefix}paths": [f.path for f in files],
            f"{prefix}index": [f.index for f in files],
            f"{prefix}names": [f.landed.name for f in files],
            f"{prefix}source": source,
            f"{prefix}max": self.max_line,
        }

    def relation(self, source: str, prefix: str, rejected: bool = False) -> tuple[str, dict]:
        """SQL for the source's engine-read lines as `lines` columns (row, landing_source, source_file,
        line_no, raw), and its parameters (`params`).

        `rejected` also keeps the lines over max_line, which only the quarantine reads.
        """
        line = "line"
        keep = f"NOT {BLANK.format(line=line)}"
        keep = f"(length(line) > {{{prefix}max:UInt64}} OR {keep})" if rejected else f"length(line) <= {{{prefix}max:UInt64}} AND {keep}"
        at = f"indexOf({{{prefix}paths:Array(String)}}, _path)"
        # _row_number is Nullable(Int64) on chDB 4.4 though never NULL for a line read; a Nullable
        # `row` would make every work table carry a null map and refuse groupBitmap's bitmaps.
        number = "(assumeNotNull(_row_number) + 1)"
        sql = (
            f"SELECT bitOr(bitShiftLeft(toUInt64({{{prefix}index:Array(UInt32)}}[{at}]), 32), toUInt64({number})) AS row, "
            f"{{{prefix}source:String}} AS landing_source, {{{prefix}names:Array(String)}}[{at}] AS source_file, "
            f"toUInt32({number}) AS line_no, line AS raw "
            f"FROM {self.table_function(prefix + 'glob')} WHERE _path IN {{{prefix}paths:Array(String)}} AND {keep}"
        )
        return sql, self.params(source, prefix)


def engine_read(
    landing: LandingZone,
    ordered: list[tuple[str, LandingFile]],
    hour,
    function: str,
    cluster: str = "",
    collection: str = "",
    max_line: int = MAX_LINE_BYTES,
) -> EngineRead:
    """Which of the hour's files (all of them, in name order) the engine can be asked to read."""
    if cluster and not IDENTIFIER.fullmatch(cluster):
        raise ValueError(f"METERING_CLICKHOUSE_CLUSTER must be a plain identifier, got {cluster!r}")
    if collection and not IDENTIFIER.fullmatch(collection):
        raise ValueError(f"METERING_CLICKHOUSE_S3_COLLECTION must be a plain identifier, got {collection!r}")
    read = EngineRead(function=function, cluster=cluster, collection=collection, max_line=max_line)
    for index, (source, landed) in enumerate(ordered):
        if source not in read.globs:
            glob = landing.engine_glob(source, hour)
            read.globs[source] = glob or ""
        if not read.globs[source]:
            read.fallback[landed.name] = "the landing path holds characters the engine's glob would not take literally"
            continue
        read.files.setdefault(source, []).append(EngineFile(index, source, landed, landing.engine_path(landed)))
    return read


def census(client, read: EngineRead, max_decompressed: int = MAX_DECOMPRESSED_BYTES) -> None:
    """Count each engine-read file's lines and decompressed bytes in one pass; hand the files the engine
    cannot treat like the Python reader to it.

    A statement that fails naming one of the files sends that file to the fallback and runs
    again without it; a failure that names none is raised (the step's retry policy applies).
    """
    while read.engine_files:
        parts, params = [], {}
        for k, source in enumerate(read.files):
            if not read.files[source]:
                continue
            params.update(read.params(source, f"c{k}_"))
            at = f"indexOf({{c{k}_paths:Array(String)}}, _path)"
            counted = f"length(line) > {{c{k}_max:UInt64}} OR NOT {BLANK.format(line='line')}"
            parts.append(
                f"SELECT {{c{k}_names:Array(String)}}[{at}] AS source_file, {{c{k}_source:String}} AS landing_source, "
                f"toUInt64({counted}) AS counted, length(line) + 1 AS size "
                f"FROM {read.table_function(f'c{k}_glob')} WHERE _path IN {{c{k}_paths:Array(String)}}"
            )
        sql = f"SELECT source_file, any(landing_source), sum(counted), sum(size) FROM ({' UNION ALL '.join(parts)}) GROUP BY source_file"
        try:
            rows = client.query(sql, parameters=params, settings={"max_memory_usage": ENGINE_MEMORY_BYTES}).result_rows
        except Exception as exc:
            culprit = _named_file(read, str(exc))
            if culprit is None:
                raise
            read.drop(culprit.landed.name, f"the engine could not read it: {_first_line(str(exc))}")
            continue
        seen = {name: (lines, size) for name, _, lines, size in rows}
        read.lines, read.file_lines = {}, {}
        for f in list(read.engine_files):
            name = f.landed.name
            if name not in seen:
                if f.landed.size:
                    read.drop(name, "the engine found no such file (gone since it was listed?)")
            elif f.landed.compressed and seen[name][1] > max_decompressed:
                read.drop(name, f"decompresses to more than the {max_decompressed}-byte limit")
            else:
                read.lines[f.landing_source] = read.lines.get(f.landing_source, 0) + seen[name][0]
                read.file_lines[name] = seen[name][0]
        return


def _named_file(read: EngineRead, message: str) -> EngineFile | None:
    named = set(_FILE_IN_ERROR.findall(message))
    for f in read.engine_files:
        if f.path in named or f.path in message:
            return f
    return None


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0][:300] if message.strip() else "unknown error"


def raw_head(expr: str = "raw") -> str:
    """The part of a rejected line the quarantine keeps, as load.py keeps it."""
    return f"substring({expr}, 1, {KEEP_RAW_BYTES})"


def oversized_detail(expr: str = "raw") -> str:
    """reader.py's `oversized` detail, for a line the engine read whole."""
    return f"concat('line of ', toString(length({expr})), ' bytes is over the 1 MiB limit')"


def reading_function(requested: str, on_s3: bool, embedded: bool, cluster: str = "") -> str:
    """How an hour's files are read: "python" (reader.py), or the engine's "file", "s3" or "s3Cluster".

    A server cannot see this process's disk, so a local landing zone is read in Python unless
    the engine is embedded; a cluster spreads an S3 landing zone over its nodes.
    """
    if requested not in ("engine", "python"):
        raise ValueError(f"METERING_INGEST_READER must be engine or python, got {requested!r}")
    if requested == "python":
        return "python"
    if on_s3:
        return "s3Cluster" if cluster and not embedded else "s3"
    return "file" if embedded else "python"


def lines_relations(read: EngineRead | None, lines: str, sources: list[str], loaded_any: bool):
    """relation(source, rejected) -> the SQL a source's lines are read from, and its parameters: the `lines`
    work table (Python reader), the engine reading the files in place, or both (files that fell back)."""
    prefixes = {name: f"e{k}_" for k, name in enumerate(sources)}

    def relation(source: str, rejected: bool) -> tuple[str, dict]:
        if read is None:
            return f"`{lines}`", {}
        parts, params = [], {}
        if read.files.get(source):
            sql, params = read.relation(source, prefixes[source], rejected)
            parts.append(sql)
        if loaded_any or not parts:
            parts.append(f"SELECT row, landing_source, source_file, line_no, raw FROM `{lines}`")
        return "(" + " UNION ALL ".join(parts) + ")", params

    return relation


def ensure_unchanged(landing: LandingZone, read: EngineRead, hour: datetime) -> None:
    """The engine read each file three times (engine.py): refuse the hour if one changed or vanished meanwhile."""
    now = {f.name: f for source in read.files for f in landing.list_hour(source, hour)}
    changed = sorted(f.landed.name for f in read.engine_files if now.get(f.landed.name) != f.landed)
    if changed:
        raise LandingChanged(f"landing files changed while the hour was read; rerun the hour: {', '.join(changed[:5])}")
