"""The export's pure logic, without Dagster, ClickHouse or S3: layout, ids, quantities, deltas, chunks, retries."""

import json
import os
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from metering_pipeline.catalog import load_catalog
from metering_pipeline.export.amounts import Amount, UsageKey, accumulate, compute_deltas, quantity_text, subtract, total
from metering_pipeline.export.chunks import Limits, RecordTooLarge, chunk, plan_objects
from metering_pipeline.export.layout import manifest_key, meter_folder, meter_name, object_key
from metering_pipeline.export.records import Window, build_records, object_id, record_id, rfc3339
from metering_pipeline.export.retry import RetryPolicy, StoreUnavailable, call_with_retries, is_retryable
from metering_pipeline.resources.export_store import STALE_TEMP_SECONDS, TEMP_PREFIX, LocalObjects

HOUR = datetime(2026, 11, 22, 10, tzinfo=UTC)
WINDOW = Window("2026-11-22-10:00", HOUR, HOUR + timedelta(hours=1))


@pytest.mark.parametrize(
    "name, folder",
    [
        ("gateway_requests", "gateway_requests"),
        ("a.b-c_d", "a.b-c_d"),
        ("..", "%2E."),
        (".", "%2E"),
        (".hidden", "%2Ehidden"),
        ("_manifests", "%5Fmanifests"),
        ("../../etc/passwd", "%2E.%2F..%2Fetc%2Fpasswd"),
        ("a/b", "a%2Fb"),
        ("100%", "100%25"),
        ("%2F", "%252F"),
        ("back\\slash", "back%5Cslash"),
        ("ü ☃", "%C3%BC%20%E2%98%83"),
        ("tab\tnew\nline", "tab%09new%0Aline"),
    ],
)
def test_meter_folder_encodes_everything_outside_the_safe_set(name, folder):
    assert meter_folder(name) == folder
    assert meter_name(folder) == name
    assert "/" not in folder and folder not in (".", "..") and not folder.startswith(("_", "."))


@pytest.mark.parametrize("bad", ["", "x" * 86 + "☃" * 30, "\ud800"])
def test_meter_folder_refuses_unusable_names(bad):
    with pytest.raises(ValueError):
        meter_folder(bad)


def test_distinct_names_never_share_a_folder():
    names = ["a/b", "a%2Fb", "a%252Fb", ".", "%2E", "..", "_x", "%5Fx", "ü", "%C3%BC"]
    assert len({meter_folder(n) for n in names}) == len(names)


def test_keys_and_times():
    oid = object_id(WINDOW.partition_key, "api_calls", 0, 0)
    assert object_key("api_calls", HOUR, oid) == f"api_calls/2026/11/22/10/00/{oid}.jsonl"
    assert manifest_key(HOUR, 12) == "_manifests/2026/11/22/10/00/revision-000012.json"
    assert rfc3339(HOUR) == "2026-11-22T10:00:00Z"
    with pytest.raises(ValueError):
        rfc3339(HOUR.replace(tzinfo=None))


def test_ids_are_uuid5_stable_and_sensitive_to_every_input():
    oid = object_id("2026-11-22-10:00", "m", 1, 2)
    assert oid == object_id("2026-11-22-10:00", "m", 1, 2) and oid[14] == "5"
    assert (
        len(
            {
                oid,
                object_id("2026-11-22-11:00", "m", 1, 2),
                object_id("2026-11-22-10:00", "n", 1, 2),
                object_id("2026-11-22-10:00", "m", 0, 2),
                object_id("2026-11-22-10:00", "m", 1, 3),
            }
        )
        == 5
    )
    base = ("acme", "", "m", {"a": "1", "b": "2"}, "2026-11-22T10:00:00Z", 0)
    rid = record_id(*base)
    assert rid == record_id("acme", "", "m", {"b": "2", "a": "1"}, "2026-11-22T10:00:00Z", 0)  # dimension order
    variants = [
        ("acme", "acct", *base[2:]),
        ("acme,", "", *base[2:]),
        ("acme", "", "m", {"a": "1"}, *base[4:]),
        (*base[:4], "2026-11-22T11:00:00Z", 0),
        (*base[:5], 1),
    ]
    assert len({rid, *(record_id(*v) for v in variants)}) == 6
    assert record_id("a,b", "", "m", {}, "t", 0) != record_id("a", "b", "m", {}, "t", 0)  # no separator games


@pytest.mark.parametrize(
    "value, text",
    [
        ("10.000000000", "10"),
        ("10.500000000", "10.5"),
        ("0.000000001", "0.000000001"),
        ("0E-9", "0"),
        ("-0.000000000", "0"),
        ("-3.250000000", "-3.25"),
        ("1E+3", "1000"),
        ("12345678901234567890123456789.123456789", "12345678901234567890123456789.123456789"),
    ],
)
def test_quantity_text_is_exact_and_canonical(value, text):
    assert quantity_text(Decimal(value)) == text


def test_decimal_arithmetic_never_rounds_38_digits():
    a, b = Decimal("99999999999999999999999999999.999999999"), Decimal("0.000000001")
    assert subtract(a, b) == Decimal("99999999999999999999999999999.999999998")
    assert total([a, b]) == Decimal("100000000000000000000000000000.000000000")
    with pytest.raises(ValueError):
        quantity_text(Decimal("NaN"))


def key(tenant, meter="m", dims=(("s", "x"),), account=""):
    return UsageKey(meter, tenant, account, dims)


def test_deltas_are_new_minus_exported_including_negative_and_gone():
    exported = accumulate(
        [
            (key("a"), Amount(Decimal(5), 5)),
            (key("a"), Amount(Decimal(2), 1)),
            (key("b"), Amount(Decimal(3), 3)),
            (key("c"), Amount(Decimal(4), 4)),
        ]
    )
    current = {
        key("a"): Amount(Decimal(7), 6, "t", "u"),
        key("b"): Amount(Decimal(1), 1, "t", "u"),
        key("d"): Amount(Decimal("0.5"), 1, "t", "u"),
        key("a", account="x"): Amount(Decimal(1), 1, "t", "u"),
    }
    deltas = compute_deltas(current, exported)
    assert {k.tenant_id + k.billing_account_id: (d.quantity, d.event_count) for k, d in deltas.items()} == {
        "b": (Decimal(-2), -2),
        "c": (Decimal(-4), -4),
        "d": (Decimal("0.5"), 1),
        "ax": (Decimal(1), 1),
    }
    assert compute_deltas(current, accumulate([(k, v) for k, v in current.items()])) == {}


def test_event_count_only_change_is_a_zero_quantity_correction():
    deltas = compute_deltas({key("a"): Amount(Decimal(9), 3)}, {key("a"): Amount(Decimal(9), 2)})
    assert [(d.quantity, d.event_count) for d in deltas.values()] == [(Decimal(0), 1)]


def test_records_are_deterministic_and_chunks_respect_both_limits():
    catalog = load_catalog()
    deltas = {key(f"t{i:03d}", "gateway_requests"): Amount(Decimal(i), i) for i in range(120)}
    records = build_records(deltas, catalog, 0, WINDOW)
    assert [r.line() for r in records] == [r.line() for r in build_records(dict(reversed(deltas.items())), catalog, 0, WINDOW)]
    line = json.loads(records[1].line())
    assert line["unit"] == "requests" and line["event_type"] == "gateway.request" and line["quantity"] == "1"
    planned = plan_objects(records, WINDOW, 0, Limits(50, 2_000_000))
    assert [len(o.records) for o in planned] == [50, 50, 20]
    limit = 3 * len(records[0].line())
    small = plan_objects(records, WINDOW, 0, Limits(50, limit))
    assert all(len(o.body) <= limit and 1 <= len(o.records) <= 3 for o in small)
    assert sum(len(o.records) for o in small) == 120 and b"".join(o.body for o in small) == b"".join(r.line() for r in records)
    assert [o.key for o in planned] == [o.key for o in plan_objects(records, WINDOW, 0, Limits())]


def test_chunk_edges():
    assert chunk([b"x\n"] * 51, Limits(50, 10_000)) == [list(range(50)), [50]]
    assert chunk([b"x\n"] * 50, Limits(50, 10_000)) == [list(range(50))]
    assert chunk([b"12345\n", b"12345\n"], Limits(50, 12)) == [[0, 1]]  # exactly at the limit fits
    assert chunk([b"12345\n", b"123456\n"], Limits(50, 12)) == [[0], [1]]
    assert chunk([], Limits()) == []
    with pytest.raises(RecordTooLarge):
        chunk([b"x" * 13], Limits(50, 12))


def client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")


def test_retryable_errors():
    assert is_retryable(client_error("SlowDown", 503)) and is_retryable(client_error("InternalError", 500))
    assert is_retryable(client_error("Whatever", 502)) and is_retryable(client_error("TooManyRequests", 429))
    assert is_retryable(ConnectionClosedError(endpoint_url="x")) and is_retryable(EndpointConnectionError(endpoint_url="x"))
    assert is_retryable(ReadTimeoutError(endpoint_url="x"))
    assert not is_retryable(client_error("AccessDenied", 403)) and not is_retryable(client_error("NoSuchBucket", 404))
    assert not is_retryable(ValueError("bug"))


def test_retries_are_bounded_backed_off_and_counted():
    calls, sleeps, retries = [], [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise client_error("SlowDown", 503)
        return "ok"

    policy = RetryPolicy(attempts=4, base_seconds=1.0, max_seconds=3.0)
    assert call_with_retries(flaky, policy, "PUT k", on_retry=retries.append, sleep=sleeps.append) == "ok"
    assert len(calls) == 3 and len(retries) == 2 and all(0 <= s <= 3.0 for s in sleeps)

    attempts = []

    def failing(exc):
        def operation():
            attempts.append(1)
            raise exc

        return operation

    with pytest.raises(StoreUnavailable, match="PUT k failed after 4 attempts"):
        call_with_retries(failing(client_error("SlowDown", 503)), policy, "PUT k", sleep=lambda s: None)
    assert len(attempts) == 4
    attempts.clear()
    with pytest.raises(ClientError):  # not transient: no retry at all
        call_with_retries(failing(client_error("AccessDenied", 403)), policy, "PUT k", sleep=lambda s: None)
    assert len(attempts) == 1
    assert [policy.delay(n, rand=lambda: 1.0) for n in range(4)] == [1.0, 2.0, 3.0, 3.0]


def test_local_writes_sweep_temp_files_a_killed_write_left(tmp_path):
    objects = LocalObjects(str(tmp_path))
    objects.put("m/a.ndjson", b"{}\n", "application/x-ndjson")
    stale, fresh = tmp_path / "m" / f"{TEMP_PREFIX}killed", tmp_path / "m" / f"{TEMP_PREFIX}writing"
    stale.write_bytes(b"partial")
    fresh.write_bytes(b"partial")
    old = time.time() - STALE_TEMP_SECONDS - 60
    os.utime(stale, (old, old))
    assert objects.keys("m/") == {"m/a.ndjson": 3}  # temp files are never listed
    objects.put("m/b.ndjson", b"{}\n", "application/x-ndjson")
    assert not stale.exists() and fresh.exists()
    assert (tmp_path / "m" / "b.ndjson").read_bytes() == b"{}\n"
