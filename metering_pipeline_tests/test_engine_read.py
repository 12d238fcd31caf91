"""The engine reads the landing zone in place (ingest/engine.py), with the Python reader's every guarantee.

Differential: one hostile hour (every format's fuzzed lines, plus CRLF, a BOM, blank and
whitespace lines, NUL bytes, lines at and past 1 MiB, a missing last newline, duplicates
across files, gzip, a corrupt and a truncated gzip, a decompression bomb, a file that is
not a landing file) is ingested by the Python reader and by the engine, on a local landing
zone through file() and on S3 (moto on loopback) through s3(); `events`, `quarantine` and
the hour's accounting must be identical, and only the files the engine cannot treat like
the Python reader fall back to it, each named with its reason.
"""

import gzip
import json
import random
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from metering_pipeline.catalog import load_catalog
from metering_pipeline.ingest.engine import LandingChanged, reading_function
from metering_pipeline.ingest.hour import ingest_hour
from metering_pipeline.resources import ClickHouseResource, LandingZone
from metering_pipeline_tests.support.crash_harness import write_catalog
from metering_pipeline_tests.support.hostile import FORMATS, HOUR_PATH, RandomChooser, _record, random_lines

HOUR = datetime(2026, 11, 22, 10, tzinfo=UTC)
LIMITS = {"max_decompressed": 256 << 10}  # the bomb passes it; every other file stays under it
EDGE = "events"  # the CloudEvents source of the harness catalog
FALLBACK = {f"{EDGE}/{HOUR_PATH}/{name}" for name in ("c-corrupt.ndjson.gz", "c-truncated.ndjson.gz", "c-bomb.ndjson.gz")}


def _valid(rng: random.Random, n: int) -> list[bytes]:
    chooser = RandomChooser(rng, id_pool=10_000)
    return [json.dumps(_record("cloudevents", chooser)).encode() for _ in range(n)]


def _hostile_hour(root: Path) -> dict[str, bytes]:
    """landing name -> bytes of every file of the hour."""
    rng = random.Random(16)
    files: dict[str, bytes] = {}
    for fmt, source in FORMATS.items():
        lines = random_lines(fmt, rng, 300)
        files[f"{source}/{HOUR_PATH}/a-fuzz.ndjson"] = b"\n".join(lines[:150]) + b"\n"
        files[f"{source}/{HOUR_PATH}/b-fuzz.ndjson.gz"] = gzip.compress(b"\n".join(lines[150:]) + b"\n")
    good = _valid(rng, 40)
    edge = {
        "crlf.ndjson": b"\r\n".join(good[:5]) + b"\r\n",
        "bom.ndjson": b"\xef\xbb\xbf" + b"\n".join(good[5:8]) + b"\n",
        "blank.ndjson": b"\n \n\t\t\n" + good[8] + b"\n\n   \r\n" + good[9] + b"\n\f\n",
        "only-blank.ndjson": b"\n\n  \n",
        "empty.ndjson": b"",
        "nul.ndjson": good[10][:-1] + b',"x":"\x00"}\n' + b"\x00\x00\n" + good[11] + b"\n",
        "no-final-newline.ndjson": good[12] + b"\n" + good[13],
        "long.ndjson": b"\n".join(
            [
                good[14],
                b'{"pad":"' + b"a" * ((1 << 20) - 10) + b'"}',  # exactly 1 MiB: read, malformed for the format
                b'{"pad":"' + b"b" * (1 << 20) + b'"}',  # past 1 MiB: oversized
                b" " * ((1 << 20) + 5),  # whitespace past 1 MiB: oversized, not blank
                good[15],
                b"x" * ((1 << 20) + 3),  # past 1 MiB and the last line, with no newline
            ]
        ),
        "dup-1.ndjson": b"\n".join(good[16:20] + good[16:17]) + b"\n",
        "dup-2.ndjson.gz": gzip.compress(b"\n".join(good[17:22]) + b"\n"),
        "wrong-hour.ndjson": good[22].replace(b"2026-11-22T10:", b"2026-11-22T11:") + b"\n" + good[23] + b"\n",
        "c-corrupt.ndjson.gz": gzip.compress(b"\n".join(good[24:30]) + b"\n")[:-40] + b"garbage" * 8,
        "c-truncated.ndjson.gz": gzip.compress(b"\n".join(good[30:36]) + b"\n" * 2000)[:-30],
        "c-bomb.ndjson.gz": gzip.compress(b"\n".join(good[36:38]) + b"\n" + b"\n" * (2 << 20)),
        "d-multi-member.ndjson.gz": gzip.compress(good[38] + b"\n") + gzip.compress(good[39] + b"\n"),
        "not-landing.ndjson.tmp": b"never read\n",
    }
    files.update({f"{EDGE}/{HOUR_PATH}/{name}": data for name, data in edge.items()})
    return files


def _write_local(root: Path, files: dict[str, bytes]) -> LandingZone:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return LandingZone(url=str(root))


def _snapshot(client, report) -> dict:
    events = client.query(
        "SELECT * EXCEPT loaded_at FROM events WHERE hour = {h:DateTime('UTC')} ORDER BY source_file, line_no, source, id",
        parameters={"h": HOUR.replace(tzinfo=None)},
    ).result_rows
    quarantine = client.query(
        "SELECT * EXCEPT loaded_at FROM quarantine WHERE hour = {h:DateTime('UTC')} ORDER BY source_file, line_no, reason",
        parameters={"h": HOUR.replace(tzinfo=None)},
    ).result_rows
    figures = (report.lines_read, report.accepted, report.duplicates, dict(report.quarantined), report.events, report.files)
    return {"events": events, "quarantine": quarantine, "figures": figures}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("engine")
    return root, load_catalog(write_catalog(root / "catalog.yaml")), _hostile_hour(root)


def _both(root: Path, catalog, landing: LandingZone, engine: str):
    with ClickHouseResource(url=f"chdb://{root / 'ch'}").get_client() as client:
        python = ingest_hour(client, landing, catalog, HOUR, reader="python", **LIMITS)
        expected = _snapshot(client, python)
        read = ingest_hour(client, landing, catalog, HOUR, reader=engine, **LIMITS)
        got = _snapshot(client, read)
    return python, expected, read, got


def _assert_same(python, expected, read, got):
    assert python.reconciles and read.reconciles
    assert got["figures"] == expected["figures"]
    assert got["quarantine"] == expected["quarantine"]
    assert got["events"] == expected["events"]
    reasons = {row[4] for row in expected["quarantine"]}  # every file-level reason is exercised
    assert {"corrupt_file", "decompression_limit", "oversized", "malformed_json"} <= reasons, reasons
    assert python.duplicates > 0 and python.events > 0


def test_local_engine_read_equals_the_python_reader(hostile):
    root, catalog, files = hostile
    landing = _write_local(root / "landing", files)
    python, expected, read, got = _both(root, catalog, landing, "file")
    _assert_same(python, expected, read, got)
    assert set(read.fallback) == FALLBACK, read.fallback
    assert read.engine_files == python.files - len(FALLBACK)
    assert "decompresses to more than" in read.fallback[f"{EDGE}/{HOUR_PATH}/c-bomb.ndjson.gz"]
    assert "could not read it" in read.fallback[f"{EDGE}/{HOUR_PATH}/c-corrupt.ndjson.gz"]


@pytest.mark.slow
def test_s3_engine_read_equals_the_python_reader(hostile, s3):
    root, catalog, files = hostile
    client = s3.client()
    for name, data in files.items():
        client.put_object(Bucket=s3.bucket, Key=f"landing/{name}", Body=data)
    landing = LandingZone(url=s3.url("landing"), region=s3.region)
    python, expected, read, got = _both(root, catalog, landing, "s3")
    _assert_same(python, expected, read, got)
    assert set(read.fallback) == FALLBACK, read.fallback


def test_a_vanished_file_falls_back_and_is_unreadable(tmp_path, hostile):
    _, catalog, _ = hostile
    landing = _write_local(tmp_path / "landing", {f"{EDGE}/{HOUR_PATH}/a.ndjson": b'{"x":1}\n'})
    listed = landing.list_hour(EDGE, HOUR)
    (tmp_path / "landing" / listed[0].name).unlink()

    class Stale(LandingZone):
        def list_hour(self, source, hour):
            return listed if source == EDGE else []

    with ClickHouseResource(url=f"chdb://{tmp_path / 'ch'}").get_client() as client:
        report = ingest_hour(client, Stale(url=landing.url), catalog, HOUR, reader="file")
        reasons = client.query("SELECT reason FROM quarantine").result_rows
    assert report.fallback == {listed[0].name: "the engine found no such file (gone since it was listed?)"}
    assert reasons == [("unreadable_file",)] and report.reconciles


def test_a_file_changed_while_read_refuses_the_hour(tmp_path, hostile, monkeypatch):
    """The engine reads each file three times; a file rewritten between the passes must not yield a mixed hour."""
    _, catalog, _ = hostile
    good = _valid(random.Random(1), 2)
    landing = _write_local(tmp_path / "landing", {f"{EDGE}/{HOUR_PATH}/a.ndjson": good[0] + b"\n"})
    with ClickHouseResource(url=f"chdb://{tmp_path / 'ch'}").get_client() as client:
        ingest_hour(client, landing, catalog, HOUR, reader="file")
        before = client.query("SELECT id FROM events").result_rows
        from metering_pipeline.ingest import hour as hour_module

        real = hour_module.census

        def census_then_rewrite(*args, **kwargs):
            real(*args, **kwargs)
            path = tmp_path / "landing" / EDGE / HOUR_PATH / "a.ndjson"
            path.write_bytes(good[1] + b"\n" + good[0] + b"\n")

        monkeypatch.setattr(hour_module, "census", census_then_rewrite)
        with pytest.raises(LandingChanged, match="a.ndjson"):
            ingest_hour(client, landing, catalog, HOUR, reader="file")
        assert client.query("SELECT id FROM events").result_rows == before  # the hour as it was


def test_the_reading_function_follows_the_deployment():
    assert reading_function("engine", on_s3=False, embedded=True) == "file"
    assert reading_function("engine", on_s3=False, embedded=False) == "python"  # a server cannot see this disk
    assert reading_function("engine", on_s3=True, embedded=True) == "s3"
    assert reading_function("engine", on_s3=True, embedded=False) == "s3"
    assert reading_function("engine", on_s3=True, embedded=False, cluster="billing") == "s3Cluster"
    assert reading_function("python", on_s3=True, embedded=False, cluster="billing") == "python"
    with pytest.raises(ValueError, match="METERING_INGEST_READER"):
        reading_function("spark", on_s3=True, embedded=True)


def test_a_landing_folder_named_like_a_glob_is_read_in_python(tmp_path, hostile):
    _, catalog, _ = hostile
    good = _valid(random.Random(2), 1)
    root = tmp_path / "land{ing}*"
    landing = _write_local(root, {f"{EDGE}/{HOUR_PATH}/a.ndjson": good[0] + b"\n"})
    with ClickHouseResource(url=f"chdb://{tmp_path / 'ch'}").get_client() as client:
        report = ingest_hour(client, landing, catalog, HOUR, reader="file")
    assert report.engine_files == 0 and report.accepted == 1
    assert list(report.fallback.values()) == ["the landing path holds characters the engine's glob would not take literally"]
    shutil.rmtree(root)
