"""Every line ends as accepted, duplicate or quarantined, and the counts reconcile."""

import json

from metering_pipeline_tests.support.events import KEY, land, line, materialization_metadata, query, run_hour

BAD = {
    "malformed_json": ["{not json", "[1, 2]", b"\xff\xfe{}".decode("latin-1")],
    # A dedup key or tenant absent, null or blank (empty or only whitespace) is missing, never a key events share.
    "missing_field": [
        json.dumps({"specversion": "1.0", "id": "m1", "source": "edge", "type": "gateway.request", "time": "2026-11-22T10:00:00Z"}),
        line("", subject="blank-id"),
        line("   "),
        line("m2", source=" "),
        line("m3", type="\t "),
        line("m4", subject="  "),
        line("m5", subject=None),
    ],
    # A JSON type the producer never writes for the attribute: an id or source as a number, a tenant as an object.
    "invalid_field": [
        line("f1", specversion="0.3"),
        line("f2", subject=42),
        line("f4", data="text"),
        line(7, subject="numeric-id"),
        line("f5", source=3),
        line("f6", subject={"customerId": "acme"}),
    ],
    "invalid_time": [line("t1", time="yesterday"), line("t2", time="2026-11-22 10:00:00")],
    "wrong_partition": [line("w1", time="2026-11-22T11:00:00Z"), line("w2", time="2026-11-22T09:59:59.999999Z")],
    "unknown_event_type": [line("u1", type="coffee.brewed")],
    "invalid_value": [
        line("v1", data={"service_id": "s", "bytes_sent": -5, "bytes_received": 1}),
        line("v2", data={"service_id": "s", "bytes_sent": "lots", "bytes_received": 1}),
        line("v3", data={"service_id": "s", "bytes_received": 1}),
        line("v4", data={"service_id": "s", "bytes_sent": 12345, "bytes_received": 1}).replace("12345", "1e300"),
        line("v5", type="api.call", data={"endpoint": "/x"}),
        line("v6", data={"service_id": "s", "bytes_sent": "0.0000000001", "bytes_received": 1}),  # finer than Decimal(38, 9)
    ],
}


def test_every_reason_reconciles(clickhouse, landing, landing_dir, catalog_resource):
    good = [line(f"g{i}") for i in range(5)] + [line("g0")]  # one duplicate
    oversized = line("big", data={"service_id": "s", "bytes_sent": 1, "bytes_received": 1, "pad": "x" * (1 << 20)})
    bad = [text for texts in BAD.values() for text in texts]
    land(landing_dir, "a.ndjson", good + bad + ["", "   ", oversized, line("edge-of-hour", time="2026-11-22T10:59:59.999999Z")])
    result = run_hour(clickhouse, landing, catalog_resource)

    meta = materialization_metadata(result, "accepted_events")
    expected_quarantine = {reason: len(texts) for reason, texts in BAD.items()} | {"oversized": 1}
    assert meta["lines_read"] == len(good) + len(bad) + 2  # blank lines are not lines
    assert meta["accepted"] == 6 and meta["duplicates"] == 1
    assert meta["quarantined"] == sum(expected_quarantine.values())
    assert meta["lines_read"] == meta["accepted"] + meta["duplicates"] + meta["quarantined"]

    stored = dict(query(clickhouse, "SELECT reason, count() FROM quarantine GROUP BY reason"))
    assert stored == expected_quarantine
    [raw_len, raw_bytes] = query(clickhouse, "SELECT length(raw), raw_bytes FROM quarantine WHERE reason = 'oversized'")[0]
    assert raw_len == 64 << 10 and raw_bytes == len(oversized)
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["lines_reconcile"] is True
    assert checks["expect_invalid_value"] is False and checks["expect_unknown_event_type"] is False


def test_quarantine_keeps_file_line_and_detail(clickhouse, landing, landing_dir, catalog_resource):
    land(landing_dir, "a.ndjson", [line("ok"), line("bad", specversion="2.0")])
    run_hour(clickhouse, landing, catalog_resource)
    [(file, line_no, reason, detail, raw)] = query(clickhouse, "SELECT source_file, line_no, reason, detail, raw FROM quarantine")
    assert (file, line_no, reason) == ("events/2026/11/22/10/a.ndjson", 2, "invalid_field")
    assert "specversion" in detail and '"bad"' in raw


def test_clean_hour_passes_every_check(clickhouse, landing, landing_dir, catalog_resource):
    land(landing_dir, "a.ndjson", [line(f"g{i}") for i in range(3)])
    result = run_hour(clickhouse, landing, catalog_resource)
    assert all(c.passed for c in result.get_asset_check_evaluations())
    assert query(clickhouse, "SELECT count() FROM quarantine") == [(0,)]


def test_partition_key_is_validated():
    import pytest

    from metering_pipeline.partitions import hour_start

    for bad in ("2026-11-22-10:30", "2026-11-22'; DROP TABLE events; --", "../../etc"):
        with pytest.raises(ValueError):
            hour_start(bad)
    assert hour_start(KEY).hour == 10


def test_first_copy_by_file_and_line_wins(clickhouse, landing, landing_dir, catalog_resource):
    """A resent event keeps the data of its first copy (earliest file name, then line), never a later one."""

    def sent(n):
        return {"service_id": "svc", "bytes_sent": n, "bytes_received": 1}

    land(landing_dir, "b.ndjson", [line("x", data=sent(3)), line("y", data=sent(4)), line("x", data=sent(5))])
    land(landing_dir, "a.ndjson", [line("z"), line("y", data=sent(2)), line("y", data=sent(9)), line("x", data=sent(1)), line("solo")])
    result = run_hour(clickhouse, landing, catalog_resource)
    kept = query(clickhouse, "SELECT id, source_file, line_no, JSONExtractInt(data, 'bytes_sent') FROM events ORDER BY id")
    assert kept == [
        ("solo", "events/2026/11/22/10/a.ndjson", 5, 10),
        ("x", "events/2026/11/22/10/a.ndjson", 4, 1),
        ("y", "events/2026/11/22/10/a.ndjson", 2, 2),
        ("z", "events/2026/11/22/10/a.ndjson", 1, 10),
    ]
    meta = materialization_metadata(result, "accepted_events")
    assert (meta["accepted"], meta["duplicates"]) == (4, 4)
