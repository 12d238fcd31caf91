"""The billing export's object contract, on a local directory and on S3 (moto server over HTTP) alike.

Usage rows are put into usage_hourly directly (the exporter's input); the end-to-end test
runs landing -> ingest -> usage -> export.
"""

import base64
import hashlib
import os
import re
from datetime import timedelta
from decimal import Decimal

import dagster as dg

from metering_pipeline.export.assets import billing_export
from metering_pipeline.export.checks import ledger_mismatches
from metering_pipeline.export.layout import meter_name
from metering_pipeline.export.records import window_of
from metering_pipeline.export.store import exported_keys
from metering_pipeline.partitions import hourly_partitions
from metering_pipeline.resources import CatalogResource
from metering_pipeline_tests.support.export_helpers import (
    HOUR,
    KEY,
    PREFIX,
    checks,
    data_objects,
    ledger,
    make_store,
    manifests,
    metadata,
    records,
    revisions,
    run_export,
    set_usage,
    stored,
    totals,
    usage,
)

UUID = "[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def test_51_records_make_two_objects_with_the_documented_layout(clickhouse, export_store):
    set_usage(clickhouse, [usage(f"tenant-{i:02d}", value=f"{i}.500", events=i + 1) for i in range(51)])
    result = run_export(clickhouse, export_store)

    objects = stored(export_store)
    data = data_objects(objects)
    assert len(data) == 2 and all(re.fullmatch(rf"gateway_requests/2026/11/22/10/00/{UUID}\.jsonl", k) for k in data)
    assert sorted(body.count(b"\n") for body in data.values()) == [1, 50]
    [(manifest_key, manifest)] = manifests(objects).items()
    assert manifest_key == "_manifests/2026/11/22/10/00/revision-000000.json"
    assert sorted(o["key"] for o in manifest["objects"]) == sorted(data)
    assert manifest["records"] == 51 and manifest["quantity_sums"] == {"gateway_requests": str(sum(Decimal(f"{i}.5") for i in range(51)))}

    first = next(r for r in records(objects) if r["tenant_id"] == "tenant-01")
    assert list(first) == [
        "id",
        "meter",
        "event_type",
        "tenant_id",
        "billing_account_id",
        "dimensions",
        "window_start",
        "window_end",
        "quantity",
        "unit",
        "event_count",
        "revision",
        "kind",
        "metadata",
    ]
    assert first | {"id": None} == {
        "id": None,
        "meter": "gateway_requests",
        "event_type": "gateway.request",
        "tenant_id": "tenant-01",
        "billing_account_id": "",
        "dimensions": {"service_id": "svc"},
        "window_start": "2026-11-22T10:00:00Z",
        "window_end": "2026-11-22T11:00:00Z",
        "quantity": "1.5",
        "unit": "requests",
        "event_count": 2,
        "revision": 0,
        "kind": "usage",
        "metadata": {"partition_key": KEY, "catalog_hash": first["metadata"]["catalog_hash"]},
    }
    assert len({r["id"] for r in records(objects)}) == 51
    assert metadata(result)["objects"] == 2 and metadata(result)["records"] == 51
    assert all(checks(result).values())
    assert len(ledger(clickhouse)) == 51 and revisions(clickhouse) == [0]


def test_s3_puts_carry_content_type_and_checksum(clickhouse, s3):
    store = make_store("s3", None, s3)
    set_usage(clickhouse, [usage("acme")])
    run_export(clickhouse, store)
    client = s3.client()
    [key] = [k for k in s3.keys(PREFIX + "/") if k.endswith(".jsonl")]
    assert key.startswith(f"{PREFIX}/gateway_requests/2026/11/22/10/00/")
    head = client.head_object(Bucket=s3.bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ContentType"] == "application/x-ndjson"
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(s3.body(key)).digest()).decode()


def test_a_record_set_over_2mb_splits_by_bytes(clickhouse, export_store):
    big = "x" * 100_000
    set_usage(clickhouse, [usage(f"t{i:02d}", dims={"service_id": "svc", "pad": big}) for i in range(30)])
    result = run_export(clickhouse, export_store)
    data = data_objects(stored(export_store))
    assert len(data) == 2
    assert all(len(body) <= 2_000_000 for body in data.values())
    assert sum(body.count(b"\n") for body in data.values()) == 30
    assert all(checks(result).values())


def test_rerun_writes_nothing_and_a_fresh_export_is_byte_identical(clickhouse, export_store):
    set_usage(
        clickhouse,
        [
            usage("acme", value="2.25"),
            usage("globex", "api_calls", "7", dims={"endpoint": "/v1"}),
            usage("o'brien & co", "gateway_egress_bytes", "123456789012345678901234567.123456789"),
        ],
    )
    run_export(clickhouse, export_store)
    first = stored(export_store)
    handle = export_store.open()
    before = {k: _version(handle, k) for k in first}

    again = run_export(clickhouse, export_store)
    assert stored(export_store) == first
    assert {k: _version(handle, k) for k in first} == before  # not even rewritten
    assert metadata(again)["objects"] == 0 and metadata(again)["keys_written"] == []
    assert revisions(clickhouse) == [0] and all(checks(again).values())

    # Forget everything (ledger and objects), export the same usage again: same keys, same bytes.
    with clickhouse.get_client() as client:
        client.command("DROP TABLE export_ledger")
        client.command("DROP TABLE export_revisions")
    for key in first:
        handle.delete(key)
    run_export(clickhouse, export_store)
    assert stored(export_store) == first
    assert any(b'"quantity":"123456789012345678901234567.123456789"' in body for body in first.values())


def _version(store, key: str):
    if hasattr(store, "client"):
        head = store.client.head_object(Bucket=store.bucket, Key=store._key(key))
        return head["LastModified"], head["ETag"]
    return os.stat(store.location(key)).st_mtime_ns


def test_changed_hour_gets_a_correction_revision_of_deltas(clickhouse, export_store):
    set_usage(
        clickhouse,
        [
            usage("acme", value="10", events=10),
            usage("globex", value="5", events=5),
            usage("initech", value="3", events=3),
            usage("acme", "api_calls", "4", 4, {"endpoint": "/v1"}),
        ],
    )
    run_export(clickhouse, export_store)
    first = stored(export_store)

    # A late file and a fix: acme up, globex unchanged, initech gone, umbrella new, api_calls down.
    current = [
        usage("acme", value="12.5", events=12),
        usage("globex", value="5", events=5),
        usage("umbrella", value="7", events=7),
        usage("acme", "api_calls", "1", 1, {"endpoint": "/v1"}),
    ]
    set_usage(clickhouse, current)
    result = run_export(clickhouse, export_store)

    now = stored(export_store)
    assert {k: now[k] for k in first} == first  # earlier objects never rewritten
    corrections = [r for r in records(now) if r["revision"] == 1]
    assert {(r["tenant_id"], r["meter"], r["quantity"], r["event_count"], r["kind"]) for r in corrections} == {
        ("acme", "gateway_requests", "2.5", 2, "correction"),
        ("initech", "gateway_requests", "-3", -3, "correction"),
        ("umbrella", "gateway_requests", "7", 7, "correction"),
        ("acme", "api_calls", "-3", -3, "correction"),
    }
    expected = {(u["tenant_id"], "", u["meter"], tuple(sorted(u["dimensions"].items()))): (u["value"], u["event_count"]) for u in current}
    assert totals(records(now)) == expected
    revision_1 = manifests(now)["_manifests/2026/11/22/10/00/revision-000001.json"]
    assert revision_1["kind"] == "correction" and revision_1["records"] == 4
    assert revision_1["quantity_sums"] == {"api_calls": "-3", "gateway_requests": "6.5"}
    assert metadata(result)["revision"] == 1 and revisions(clickhouse) == [0, 1]
    assert all(checks(result).values())

    unchanged = run_export(clickhouse, export_store)
    assert stored(export_store) == now and revisions(clickhouse) == [0, 1]
    assert metadata(unchanged)["objects"] == 0


def test_an_empty_hour_gets_an_empty_revision_0_then_corrections(clickhouse, export_store):
    set_usage(clickhouse, [])
    run_export(clickhouse, export_store)
    objects = stored(export_store)
    assert list(objects) == ["_manifests/2026/11/22/10/00/revision-000000.json"]
    assert manifests(objects)["_manifests/2026/11/22/10/00/revision-000000.json"]["objects"] == []
    set_usage(clickhouse, [usage("acme")])
    result = run_export(clickhouse, export_store)
    [record] = records(stored(export_store))
    assert (record["revision"], record["kind"]) == (1, "correction")
    assert all(checks(result).values())


HOSTILE = ["..", ".", "../../escape", "a/b/../c", "100%", "%2F", "ünïcode ☃ meter", "_manifests", ".hidden", "back\\slash"]


def test_hostile_meter_names_stay_one_folder_under_the_root(clickhouse, export_store, tmp_path):
    set_usage(clickhouse, [usage("acme", meter=name) for name in HOSTILE])
    result = run_export(clickhouse, export_store)
    data = data_objects(stored(export_store))
    folders = {key.split("/")[0]: key for key in data}
    assert sorted(meter_name(f) for f in folders) == sorted(HOSTILE)
    assert all(key.count("/") == 6 and ".." not in key.split("/") and "." not in key.split("/") for key in data)
    assert not any(f.startswith(("_", ".")) for f in folders)
    assert {r["meter"] for r in records(stored(export_store))} == set(HOSTILE)
    if not export_store.on_s3:
        root = (tmp_path / "export").resolve()
        assert all(p.resolve().is_relative_to(root) for p in tmp_path.rglob("*.jsonl"))
        assert sorted(p.name for p in root.iterdir()) == sorted([*folders, "_manifests"])
    assert all(checks(result).values())


def test_checks_catch_lowered_limits_and_unexported_usage(clickhouse, tmp_path):
    store = make_store("local", tmp_path)
    set_usage(clickhouse, [usage(f"t{i}") for i in range(12)])
    run_export(clickhouse, store)
    stricter = run_export(clickhouse, make_store("local", tmp_path, max_records_per_object=10))
    assert checks(stricter)["objects_within_limits"] is False and checks(stricter)["objects_match_manifests"] is True

    set_usage(clickhouse, [usage("t0", value="2"), usage("late")])  # changed, not exported yet
    with clickhouse.get_client() as client:
        problems = ledger_mismatches(client, window_of(KEY))
    assert len(problems) == 13  # t0 changed, late new, t1..t11 gone
    assert any("'late'" in p for p in problems) and any("'t5'" in p for p in problems)


def test_a_single_run_backfill_exports_each_hour_of_the_range(clickhouse, tmp_path):
    set_usage(clickhouse, [usage("acme")])
    set_usage(clickhouse, [usage("globex", value="2")], hour=HOUR + timedelta(hours=1))
    store = make_store("local", tmp_path)
    job = dg.Definitions(
        assets=[billing_export],
        jobs=[dg.define_asset_job("export", [billing_export], partitions_def=hourly_partitions)],
        resources={"clickhouse": clickhouse, "catalog": CatalogResource(), "export_store": store},
    ).resolve_job_def("export")
    result = job.execute_in_process(
        tags={"dagster/asset_partition_range_start": KEY, "dagster/asset_partition_range_end": "2026-11-22-11:00"}
    )
    assert result.success
    objects = stored(store)
    assert sorted(k.split("/")[4] for k in data_objects(objects)) == ["10", "11"]
    assert sorted(manifests(objects)) == [
        "_manifests/2026/11/22/10/00/revision-000000.json",
        "_manifests/2026/11/22/11/00/revision-000000.json",
    ]
    events = result.get_asset_materialization_events()  # one per partition, run-level metadata on each
    assert sorted(e.partition for e in events) == [KEY, "2026-11-22-11:00"]
    assert all(e.materialization.metadata["partitions"].value == 2 for e in events)
    keys = exported_keys(clickhouse, [KEY, "2026-11-22-11:00"])
    assert sorted(keys) == sorted(objects) and keys[1].startswith("_manifests/2026/11/22/10/")


def test_draft_meters_go_under_the_draft_prefix(clickhouse, export_store):
    from metering_pipeline.catalog import load_catalog

    draft = next(m for m in load_catalog().meters if m.phase == "draft")
    set_usage(clickhouse, [usage("acme"), usage("acme", meter=draft.name, value="7")])
    result = run_export(clickhouse, export_store)
    data = data_objects(stored(export_store))
    assert sorted(k.split("/")[0] for k in data) == ["_draft", "gateway_requests"]
    [draft_key] = [k for k in data if k.startswith("_draft/")]
    assert meter_name(draft_key.split("/")[1]) == draft.name
    assert all(checks(result).values())
