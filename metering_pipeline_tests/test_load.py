"""The loader: landed files -> `lines` rows on the engine, numbered, blank lines left out exactly as RE2's `^\\s*$`."""

import gzip
import re

import numpy as np
import pytest

from metering_pipeline.ingest.load import LINES_COLUMNS, blank_lines, chunk_table, load_files
from metering_pipeline.ingest.reader import Chunk
from metering_pipeline.resources.landing import LandingFile
from metering_pipeline_tests.support.events import HOUR_DIR

RUNS = range(1, 12)  # whitespace runs around the loader's vectorised steps
BLANK = [b"", b"\t", b"\r", b"\x0c", b" \t\r\x0c", b" " * 40, b"\t" * 9 + b"\r", b"\r" * 8] + [b" " * n for n in RUNS]
NOT_BLANK = [
    b"\x0b",
    b"\x00",
    b" \x00",
    b"\xc2\xa0",
    b"\xe2\x80\x83",
    b"\x85",
    b"\xff",
    b" " * 40 + b"x",
    b"\r\r{}",
    b'{"a":1}\r',
    b'{"a":1}',
    b"x",
    b" \t" * 20 + b"\x0b",
] + [b" " * n + b"x" for n in RUNS]
TRICKY = BLANK + NOT_BLANK


def re2_blank(line: bytes) -> bool:
    return re.fullmatch(rb"[\t\n\f\r ]*", line) is not None


@pytest.fixture
def client(clickhouse):
    with clickhouse.get_client() as client:
        yield client


def lines_table(client, name: str = "lines") -> str:
    client.command(f"CREATE TABLE `{name}` ({LINES_COLUMNS}) ENGINE = MergeTree ORDER BY tuple()")
    return name


def stored(client, table: str = "lines") -> list[tuple]:
    """The rows, raw as bytes (hex on the wire: raw need not be UTF-8)."""
    rows = client.query(f"SELECT row, landing_source, source_file, line_no, hex(raw) FROM `{table}` ORDER BY row").result_rows
    return [(*rest, bytes.fromhex(raw)) for *rest, raw in rows]


def write(landing_dir, name: str, body: bytes, gzipped: bool = False) -> LandingFile:
    folder = landing_dir / HOUR_DIR
    folder.mkdir(parents=True, exist_ok=True)
    payload = gzip.compress(body) if gzipped else body
    (folder / name).write_bytes(payload)
    return LandingFile(f"{HOUR_DIR}/{name}", len(payload), "1")


def test_blank_lines_are_exactly_the_re2_whitespace_ones():
    order = [TRICKY[i] for i in np.random.default_rng(3).permutation(len(TRICKY))] * 3
    data = b"".join(line + b"\n" for line in order)
    chunk = Chunk(data, 1, len(order))
    mask = blank_lines(data, np.concatenate(([0], chunk.ends + 1)))
    assert mask.tolist() == [re2_blank(line) for line in order]
    no_blank = b"".join(line + b"\n" for line in NOT_BLANK)
    assert blank_lines(no_blank, np.concatenate(([0], Chunk(no_blank, 1, len(NOT_BLANK)).ends + 1))) is None


def test_the_engine_agrees_on_what_is_blank(client):
    """Pins the definition above to the engine's own RE2 `^\\s*$` (what the loader did in SQL before)."""
    client.command("CREATE TABLE probe (i UInt32, raw String) ENGINE = MergeTree ORDER BY i")
    client.insert("probe", [[i, line] for i, line in enumerate(TRICKY)], column_names=["i", "raw"])
    engine = client.query("SELECT i, match(raw, '^\\\\s*$') FROM probe ORDER BY i").result_rows
    assert [bool(blank) for _, blank in engine] == [re2_blank(line) for line in TRICKY] == [True] * len(BLANK) + [False] * len(NOT_BLANK)


def test_lines_are_numbered_per_file_without_their_newline(client, landing, landing_dir):
    """Blank lines leave gaps, CRLF keeps its \\r, a last line without \\n counts, chunks and files keep numbering."""
    body_a = b"".join(line + b"\n" for line in TRICKY) + b"crlf\r\n" + b"x" * 50 + b"\n" + b"last without newline"
    body_b = b'{"b":1}\n\n{"b":3}\r\n'
    files = [("events", write(landing_dir, "b.ndjson.gz", body_b, gzipped=True)), ("envoy", write(landing_dir, "a.ndjson", body_a))]
    report = load_files(client, landing, files, lines_table(client), chunk_bytes=16, max_line=45)

    expected = []
    for file_index, (source, landed, body) in enumerate([("envoy", files[1][1], body_a), ("events", files[0][1], body_b)]):
        for line_no, text in enumerate(body.split(b"\n"), start=1):
            if len(text) <= 45 and not re2_blank(text):
                expected.append(((file_index << 32) | line_no, source, landed.name, line_no, text))
    assert stored(client) == expected
    oversized = len(TRICKY) + 2
    assert [(e.source_file, e.line_no, e.reason, e.raw_bytes) for e in report.early] == [(files[1][1].name, oversized, "oversized", 50)]
    assert client.command("SELECT count() FROM lines WHERE match(raw, '^\\\\s*$') OR position(raw, '\\n') > 0") == 0


def test_raw_bytes_are_kept_exactly(client):
    """Non-UTF-8 bytes, NULs and \\r arrive byte for byte (the DEFAULT only drops the trailing \\n)."""
    odd = [b"\xff\xfe\x00tail\r", b"\x0b", b"\xc2\xa0 x", b"a" * 3000]
    data = b"".join(line + b"\n" for line in odd)
    client.insert_arrow(lines_table(client), chunk_table(Chunk(data, 7, len(odd)), 2, "events", "f.ndjson"))
    assert stored(client) == [((2 << 32) | (7 + i), "events", "f.ndjson", 7 + i, line) for i, line in enumerate(odd)]


def test_an_all_blank_chunk_inserts_nothing(client, landing, landing_dir):
    landed = write(landing_dir, "blank.ndjson", b"\n \n\t\r\n")
    report = load_files(client, landing, [("events", landed)], lines_table(client))
    assert stored(client) == [] and report.early == [] and report.files == [landed]


def test_small_files_share_inserts_and_keep_their_numbers(client, landing, landing_dir, monkeypatch):
    """Hundreds of tiny files cost a handful of inserts, not one each, and every line keeps its file and number."""
    files = [("events", write(landing_dir, f"f{i:03d}.ndjson", f'{{"f":{i},"n":1}}\n\n{{"f":{i},"n":3}}\n'.encode())) for i in range(300)]
    inserts = []
    original = type(client).insert_arrow

    def counted(self, table, *args, **kwargs):
        inserts.append(table)
        return original(self, table, *args, **kwargs)

    monkeypatch.setattr(type(client), "insert_arrow", counted)
    load_files(client, landing, files, lines_table(client))
    rows = stored(client)
    assert len(inserts) == 1
    assert len(rows) == 600
    assert rows[0] == (1, "events", f"{HOUR_DIR}/f000.ndjson", 1, b'{"f":0,"n":1}')
    assert rows[-1] == ((299 << 32) | 3, "events", f"{HOUR_DIR}/f299.ndjson", 3, b'{"f":299,"n":3}')
    assert all(
        raw == f'{{"f":{row >> 32},"n":{line_no}}}'.encode() and name.endswith(f"f{row >> 32:03d}.ndjson")
        for row, _, name, line_no, raw in rows
    )
