"""The landing zone misbehaving under a running hour, end to end through dg.materialize.

Files deleted or truncated while the hour reads them, files that cannot be opened or fail
mid-read, corrupt gzip and a decompression bomb at the real 2 GiB default limit: each ends
as quarantine rows with a reason, the other files load as usual, and every line is
accounted for (the `lines_reconcile` check).

Tests run as root, where `chmod 000` does not stop a read; an unreadable file is simulated
by making `open` raise PermissionError for that one path (and an I/O error mid-read by a
stream that raises EIO), which is what the kernel would hand the reader. Those faults are
injected into the Python reader (`python_landing`), which is what reads such a file: the
engine hands a file it cannot read to it (ingest/engine.py), and a file that changes under
the engine fails the hour before anything is swapped (test_engine_read.py).
"""

import errno
import gzip
import os
import zlib
from pathlib import Path

import dagster as dg
import pytest

import metering_pipeline.resources.landing as landing_module
from metering_pipeline.ingest.assets import ingest
from metering_pipeline.ingest.reader import MAX_DECOMPRESSED_BYTES
from metering_pipeline.resources import CatalogResource, LandingZone
from metering_pipeline_tests.support.events import HOUR_DIR, KEY, land, line, materialization_metadata, query
from metering_pipeline_tests.support.s3_server import REGION

GOOD = [line(f"good-{i}") for i in range(30)]
VICTIM = [line(f"victim-{i:05d}", subject="globex") for i in range(3000)]  # ~700 KB: read in many small reads below


def materialize(clickhouse, landing) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        [ingest], partition_key=KEY, resources={"clickhouse": clickhouse, "landing": landing, "catalog": CatalogResource()}
    )
    assert result.success
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["lines_reconcile"] is True
    return result


@pytest.fixture
def python_landing(landing_dir) -> LandingZone:
    return LandingZone(url=str(landing_dir), reader="python")


def faults(clickhouse) -> list[tuple]:
    return query(
        clickhouse,
        "SELECT source_file, line_no, reason, detail FROM quarantine "
        "WHERE reason IN ('unreadable_file', 'corrupt_file', 'decompression_limit', 'oversized') "
        "ORDER BY source_file, line_no",
    )


def accepted(clickhouse, prefix: str) -> int:
    return query(clickhouse, "SELECT count() FROM events WHERE startsWith(id, {p:String})", p=prefix)[0][0]


class SmallReads:
    """A landing stream that hands out at most `size` bytes per read and runs `after_first` after the first one."""

    def __init__(self, inner, size: int, after_first=None, fail_after: int | None = None):
        self.inner, self.size, self.after_first, self.fail_after, self.reads = inner, size, after_first, fail_after, 0

    def read(self, n=-1):
        self.reads += 1
        if self.fail_after is not None and self.reads > self.fail_after:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        data = self.inner.read(self.size if n is None or n < 0 else min(n, self.size))
        if self.reads == 1 and self.after_first:
            self.after_first()
        return data

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.inner.close()


def wrap_open(monkeypatch, name: str, **how):
    original = LandingZone.open

    def opened(self, landed):
        stream = original(self, landed)
        return SmallReads(stream, **how) if landed.name.endswith(name) else stream

    monkeypatch.setattr(LandingZone, "open", opened)


def test_file_deleted_between_listing_and_reading_is_quarantined(clickhouse, landing, landing_dir, monkeypatch):
    land(landing_dir, "a.ndjson", GOOD)
    doomed = land(landing_dir, "b.ndjson", VICTIM)
    original = LandingZone.list_hour

    def listed_then_deleted(self, source, hour):
        files = original(self, source, hour)
        doomed.unlink(missing_ok=True)  # a lifecycle rule removes it right after the listing
        return files

    monkeypatch.setattr(LandingZone, "list_hour", listed_then_deleted)
    result = materialize(clickhouse, landing)
    assert faults(clickhouse) == [(f"{HOUR_DIR}/b.ndjson", 1, "unreadable_file", "FileNotFoundError: No such file or directory")]
    assert accepted(clickhouse, "good-") == 30
    meta = materialization_metadata(result, "accepted_events")
    assert (meta["files"], meta["lines_read"], meta["quarantined_unreadable_file"]) == (2, 31, 1)


def test_file_deleted_while_being_read_is_read_whole(clickhouse, python_landing, landing_dir, monkeypatch):
    land(landing_dir, "a.ndjson", GOOD)
    victim = land(landing_dir, "b.ndjson", VICTIM)
    wrap_open(monkeypatch, "b.ndjson", size=64 << 10, after_first=victim.unlink)  # unlinked, the open file stays readable
    materialize(clickhouse, python_landing)
    assert not victim.exists() and faults(clickhouse) == []
    assert accepted(clickhouse, "victim-") == 3000 and accepted(clickhouse, "good-") == 30


def test_file_truncated_while_being_read_quarantines_the_cut_line(clickhouse, python_landing, landing_dir, monkeypatch):
    land(landing_dir, "a.ndjson", GOOD)
    victim = land(landing_dir, "b.ndjson", VICTIM)
    size = victim.stat().st_size
    cut = size // 2 + 17  # inside a line
    wrap_open(monkeypatch, "b.ndjson", size=64 << 10, after_first=lambda: os.truncate(victim, cut))
    result = materialize(clickhouse, python_landing)
    body = victim.read_bytes()
    whole_lines = body.count(b"\n")
    assert accepted(clickhouse, "victim-") == whole_lines  # every whole line that was there when read
    [(reason, raw)] = query(clickhouse, "SELECT reason, raw FROM quarantine WHERE source_file LIKE '%b.ndjson'")
    assert reason == "malformed_json" and raw.encode() == body[body.rfind(b"\n") + 1 :]  # the cut-off line, kept
    assert materialization_metadata(result, "accepted_events")["lines_read"] == 30 + whole_lines + 1


def test_gzip_truncated_while_being_read_is_a_corrupt_file(clickhouse, python_landing, landing_dir, monkeypatch):
    land(landing_dir, "a.ndjson", GOOD)
    victim = land(landing_dir, "b.ndjson.gz", VICTIM)
    wrap_open(monkeypatch, "b.ndjson.gz", size=4 << 10, after_first=lambda: os.truncate(victim, victim.stat().st_size // 2))
    materialize(clickhouse, python_landing)
    [(name, line_no, reason, detail)] = faults(clickhouse)
    decoded = accepted(clickhouse, "victim-")
    assert (name, reason) == (f"{HOUR_DIR}/b.ndjson.gz", "corrupt_file") and "gzip" in detail
    assert 0 < decoded < 3000 and line_no == decoded + 1  # the lines before the fault count; the fault is the next line


def test_unreadable_file_is_quarantined_and_the_rest_loads(clickhouse, python_landing, landing_dir, monkeypatch):
    land(landing_dir, "a.ndjson", GOOD)
    locked = land(landing_dir, "b.ndjson", VICTIM)
    real_open = open

    def guarded_open(path, *args, **kwargs):  # what open() gives a non-root reader of a chmod 000 file
        if Path(path) == locked:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(landing_module, "open", guarded_open, raising=False)
    materialize(clickhouse, python_landing)
    assert faults(clickhouse) == [(f"{HOUR_DIR}/b.ndjson", 1, "unreadable_file", "PermissionError: Permission denied")]
    assert accepted(clickhouse, "good-") == 30


def test_io_error_mid_read_keeps_the_lines_before_it(clickhouse, python_landing, landing_dir, monkeypatch):
    land(landing_dir, "a.ndjson", GOOD)
    land(landing_dir, "b.ndjson", VICTIM)
    wrap_open(monkeypatch, "b.ndjson", size=64 << 10, fail_after=3)
    materialize(clickhouse, python_landing)
    [(_, line_no, reason, detail)] = faults(clickhouse)
    decoded = accepted(clickhouse, "victim-")
    assert reason == "unreadable_file" and detail == "OSError: Input/output error"
    assert 0 < decoded < 3000 and line_no == decoded + 1


def test_corrupt_gzip_is_quarantined(clickhouse, landing, landing_dir):
    land(landing_dir, "a.ndjson", GOOD)
    packed = bytearray(gzip.compress(("\n".join(VICTIM) + "\n").encode(), mtime=0))
    packed[len(packed) // 2 : len(packed) // 2 + 64] = b"\xff" * 64  # flipped bytes in the deflate stream
    (Path(landing_dir) / HOUR_DIR / "b.ndjson.gz").write_bytes(bytes(packed))
    (Path(landing_dir) / HOUR_DIR / "c.ndjson.gz").write_bytes(b"PK\x03\x04 a zip file, not gzip")
    materialize(clickhouse, landing)
    found = faults(clickhouse)
    assert [(name.rsplit("/", 1)[-1], reason) for name, _, reason, _ in found] == [
        ("b.ndjson.gz", "corrupt_file"),
        ("c.ndjson.gz", "corrupt_file"),
    ]
    assert found[1][1] == 1 and accepted(clickhouse, "good-") == 30


@pytest.mark.slow
def test_decompression_bomb_stops_at_the_default_2_gib_limit(clickhouse, landing, landing_dir):
    """~2 MB of gzip that inflates past 2 GiB: read in bounded steps, quarantined, never held or stored."""
    assert MAX_DECOMPRESSED_BYTES == 2 << 30
    land(landing_dir, "a.ndjson", GOOD)
    bomb = Path(landing_dir) / HOUR_DIR / "bomb.ndjson.gz"
    member = zlib.compressobj(9, zlib.DEFLATED, 31)
    member = member.compress(bytes(64 << 20)) + member.flush()  # 64 MiB of NUL bytes in ~64 KB
    bomb.write_bytes(member * ((MAX_DECOMPRESSED_BYTES >> 26) + 1))  # multi-member gzip: 2 GiB + 64 MiB, no newline
    assert bomb.stat().st_size < 4 << 20
    result = materialize(clickhouse, landing)
    # The NUL "line" was still being skipped as oversized when the limit hit: it is part of the fault.
    [(name, line_no, reason, detail)] = faults(clickhouse)
    assert (name, line_no, reason) == (f"{HOUR_DIR}/bomb.ndjson.gz", 1, "decompression_limit")
    assert "2147483648-byte limit" in detail
    assert materialization_metadata(result, "accepted_events")["lines_read"] == 31
    assert accepted(clickhouse, "good-") == 30


def test_s3_object_deleted_between_listing_and_reading_is_quarantined(clickhouse, s3):
    client = s3.client()
    for name, lines in (("a.ndjson", GOOD), ("b.ndjson", VICTIM[:10])):
        client.put_object(Bucket=s3.bucket, Key=f"raw/{HOUR_DIR}/{name}", Body=("\n".join(lines) + "\n").encode())
    landing = LandingZone(url=s3.url("raw"), region=REGION)
    original = LandingZone.list_hour

    def listed_then_deleted(self, source, hour):
        files = original(self, source, hour)
        client.delete_object(Bucket=s3.bucket, Key=f"raw/{HOUR_DIR}/b.ndjson")
        return files

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LandingZone, "list_hour", listed_then_deleted)
        materialize(clickhouse, landing)
    [(name, line_no, reason, detail)] = faults(clickhouse)
    assert (name, line_no, reason) == (f"{HOUR_DIR}/b.ndjson", 1, "unreadable_file") and "no longer exists" in detail
    assert accepted(clickhouse, "good-") == 30
