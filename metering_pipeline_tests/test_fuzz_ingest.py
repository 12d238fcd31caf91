"""Property-based: whatever bytes land, every line ends accepted, duplicate or quarantined; nothing crashes."""

import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metering_pipeline.catalog import load_catalog
from metering_pipeline.ingest.hour import ingest_hour
from metering_pipeline.resources import ClickHouseResource, LandingZone
from metering_pipeline_tests.support.events import HOUR_DIR, event

HOUR = datetime(2026, 11, 22, 10, tzinfo=UTC)
HOSTILE = st.sampled_from(
    [
        "NaN",
        "Infinity",
        "-0",
        "1e309",
        "9" * 60,
        "0.1",
        "-1",
        "null",
        "true",
        '"12.5"',
        '"abc"',
        "[]",
        "{}",
        '"\\u0000"',
        '"\\ud800"',
        "1" + "0" * 400,
    ]
)
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)


def mutated_event(draw) -> bytes:
    fields = event(draw(st.sampled_from(["a", "b", "c", "dup"])))
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(list(fields) + ["data"]))
        choice = draw(st.integers(0, 4))
        if choice == 0:
            fields.pop(key, None)
        elif choice == 1:
            fields[key] = draw(TEXT)
        elif choice == 2:
            fields[key] = json.loads("[" * 50 + "]" * 50)
        elif choice == 3:
            fields["data"] = {"service_id": draw(TEXT), "bytes_sent": 1, "bytes_received": 1}
    body = json.dumps(fields, ensure_ascii=draw(st.booleans()))
    if draw(st.booleans()):
        body = body.replace('"bytes_sent": 10', f'"bytes_sent": {draw(HOSTILE)}')
    return body.encode()


@st.composite
def lines(draw) -> bytes:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.binary(max_size=80)).replace(b"\n", b"")
    if kind == 1:
        return b"\xef\xbb\xbf" + mutated_event(draw)
    if kind == 2:
        return mutated_event(draw) + b"\r"
    if kind == 3:
        return mutated_event(draw).replace(b"acme", b"ac\x00me")
    return mutated_event(draw)


@pytest.fixture(scope="module")
def clickhouse_client_and_landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    folder = root / "landing" / HOUR_DIR
    folder.mkdir(parents=True)
    with ClickHouseResource(url=f"chdb://{root / 'ch'}").get_client() as client:
        yield client, LandingZone(url=str(root / "landing")), folder


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(lines(), min_size=1, max_size=40))
def test_any_hour_reconciles(clickhouse_client_and_landing, generated):
    client, landing, folder = clickhouse_client_and_landing
    (folder / "fuzz.ndjson").write_bytes(b"\n".join(generated) + b"\n")
    report = ingest_hour(client, landing, load_catalog(), HOUR)
    assert report.reconciles, report
    placed = client.command("SELECT count() FROM events") + client.command("SELECT count() FROM quarantine")
    assert placed + report.duplicates == report.lines_read
    unclassified = client.command("SELECT count() FROM quarantine WHERE reason = ''")
    assert unclassified == 0
