"""The quarter-hour export (METERING_EXPORT_GRAIN=quarter_hour), end to end on chDB and moto.

Landing files -> ingest -> usage_hourly (+ usage_quarter_hourly) -> billing_export at both grains,
each to its own prefix of one bucket. The expectation per 15-minute window is computed here from
the landed events with Decimal, independently of the pipeline's SQL; the quarter-hour records must
match it, roll up to the hourly records exactly, stay byte-identical on rerun, and a late file must
add one correction revision for exactly the window it changed.
"""

import json
import re
from datetime import datetime, timedelta
from decimal import Decimal

import dagster as dg
import pytest
import yaml

from metering_pipeline.catalog import load_catalog
from metering_pipeline.catalog.model import DEFAULT_CATALOG
from metering_pipeline.export.assets import billing_export
from metering_pipeline.ingest.assets import ingest
from metering_pipeline.resources import CatalogResource
from metering_pipeline.resources.export_store import ExportStore
from metering_pipeline.usage.assets import usage_hourly
from metering_pipeline_tests.support.events import land, line
from metering_pipeline_tests.support.export_helpers import HOUR, KEY, checks, data_objects, manifests, records
from metering_pipeline_tests.support.s3_server import REGION

pytestmark = pytest.mark.slow  # full landing -> export rounds

EXTRA_METERS = [
    {"name": "peak_bytes", "event_type": "gateway.request", "aggregation": "max", "value": "$.bytes_sent", "unit": "bytes"},
    {"name": "least_bytes", "event_type": "gateway.request", "aggregation": "min", "value": "$.bytes_sent", "unit": "bytes"},
    {"name": "unique_clients", "event_type": "gateway.request", "aggregation": "unique_count", "value": "$.client", "unit": "clients"},
]
for meter in EXTRA_METERS:
    meter["group_by"] = {"service_id": "$.service_id"}
QUARTER_KEY = re.compile(r"^(?P<meter>[^_/][^/]*)/2026/11/22/10/(?P<mm>\d\d)/[0-9a-f-]{36}\.jsonl$")

# (id, tenant, service, time within 10:00, bytes_sent, client): on both sides of every window boundary.
EVENTS = [
    ("e01", "acme", "svc", "10:00:00", "10.5", "c1"),
    ("e02", "acme", "svc", "10:14:59.999999", "0.000000001", "c2"),
    ("e03", "acme", "svc", "10:15:00", "7", "c1"),
    ("e04", "acme", "svc", "10:29:59", "12.25", "c1"),
    ("e05", "acme", "web", "10:30:00", "3", "c3"),
    ("e06", "acme", "svc", "10:44:59.5", "1.000000001", "c2"),
    ("e07", "acme", "svc", "10:45:00", "99", "c4"),
    ("e08", "acme", "svc", "10:59:59.999999", "0.1", "c1"),
    ("e09", "globex", "svc", "10:07:00", "5", "g1"),
    ("e10", "globex", "svc", "10:52:00", "6", "g1"),
    ("e11", "initech", "svc", "10:16:00", "2", "i1"),
    ("e12", "initech", "svc", "10:17:00", "2", "i2"),
    ("e13", "hooli", "svc", "10:31:00", "8", "h1"),
]
LATE = [("late1", "acme", "svc", "10:33:00", "500", "c9"), ("late2", "hooli", "svc", "10:40:00", "0.5", "h1")]


def event_line(event_id, tenant, service, at, sent, client) -> str:
    data = {"service_id": service, "bytes_sent": float(sent) if "." in sent else int(sent), "bytes_received": 1, "client": client}
    return line(event_id, subject=tenant, time=f"2026-11-22T{at}Z", data=data)


def window_of(at: str) -> datetime:
    moment = datetime.fromisoformat(f"2026-11-22T{at}+00:00")
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def expected(events) -> dict[tuple, tuple[Decimal, int]]:
    """{(window start, tenant, meter, service): (value, events)} for the meters below, from the events alone."""
    grouped: dict[tuple, list[tuple[Decimal, str]]] = {}
    for _, tenant, service, at, sent, client in events:
        grouped.setdefault((window_of(at), tenant, service), []).append((Decimal(sent), client))
    found = {}
    for (start, tenant, service), values in grouped.items():
        sent = [v for v, _ in values]
        for meter, value in {
            "gateway_requests": Decimal(len(values)),
            "gateway_egress_bytes": sum(sent, Decimal(0)),
            "peak_bytes": max(sent),
            "least_bytes": min(sent),
            "unique_clients": Decimal(len({c for _, c in values})),
        }.items():
            found[(start, tenant, meter, service)] = (value, len(values))
    return found


def summed(recs) -> dict[tuple, tuple[Decimal, int]]:
    """Records summed over revisions per (window start, tenant, meter, service): the downstream view."""
    found: dict[tuple, tuple[Decimal, int]] = {}
    for r in recs:
        key = (datetime.fromisoformat(r["window_start"]), r["tenant_id"], r["meter"], r["dimensions"].get("service_id"))
        value, events = found.get(key, (Decimal(0), 0))
        found[key] = (value + Decimal(r["quantity"]), events + r["event_count"])
    return {k: v for k, v in found.items() if v != (Decimal(0), 0)}


@pytest.fixture
def catalog_resource(tmp_path) -> CatalogResource:
    document = yaml.safe_load(DEFAULT_CATALOG.read_text())
    document["meters"] += EXTRA_METERS
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return CatalogResource(path=str(path))


@pytest.fixture
def stores(s3):
    """An hourly and a quarter-hour destination, two prefixes of one bucket, small objects to force chunking."""
    options = {"region": REGION, "retry_base_seconds": 0.01, "retry_max_seconds": 0.05, "max_records_per_object": 2}
    return ExportStore(url=s3.url("billing/hourly"), **options), ExportStore(url=s3.url("billing/quarter"), grain="quarter_hour", **options)


def run(clickhouse, landing, catalog_resource, store, assets=(ingest, usage_hourly, billing_export)):
    result = dg.materialize(
        list(assets),
        partition_key=KEY,
        resources={"clickhouse": clickhouse, "landing": landing, "catalog": catalog_resource, "export_store": store},
    )
    assert result.success and all(checks(result).values()), checks(result)
    return result


def metadata(result) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "billing_export"]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def contents(store) -> dict[str, bytes]:
    opened = store.open()
    return {key: opened.get(key) for key in sorted(opened.keys(""))}


def ours(recs) -> list[dict]:
    return [r for r in recs if r["meter"] in {"gateway_requests", "gateway_egress_bytes", *(m["name"] for m in EXTRA_METERS)}]


def test_quarter_hour_keys_windows_limits_and_byte_identical_reruns(clickhouse, landing, landing_dir, catalog_resource, stores):
    _, quarter = stores
    land(landing_dir, "edge.ndjson", [event_line(*e) for e in EVENTS])
    result = run(clickhouse, landing, catalog_resource, quarter)
    assert metadata(result)["grain"] == "quarter_hour"
    first = contents(quarter)
    assert list(manifests(first)) == ["_manifests/quarter_hour/2026/11/22/10/00/revision-000000.json"]
    minutes = set()
    for key, body in data_objects(first).items():
        match = QUARTER_KEY.match(key)
        assert match, key
        minutes.add(match["mm"])
        lines = [json.loads(text) for text in body.decode().splitlines()]
        assert 1 <= len(lines) <= 2  # the record limit holds per object
        for record in lines:
            start, end = datetime.fromisoformat(record["window_start"]), datetime.fromisoformat(record["window_end"])
            assert f"{start:%M}" == match["mm"] and end - start == timedelta(minutes=15) and start.hour == 10
            assert record["metadata"]["partition_key"] == KEY and record["kind"] == "usage" and record["revision"] == 0
    assert minutes == {"00", "15", "30", "45"}
    assert summed(ours(records(first))) == expected(EVENTS)
    assert len({r["id"] for r in records(first)}) == len(records(first))

    # Materialize twice: the export alone, then the whole chain: same keys, same bytes, nothing new.
    again = run(clickhouse, landing, catalog_resource, quarter, assets=(billing_export,))
    assert contents(quarter) == first and metadata(again)["new_revisions"] == {}
    run(clickhouse, landing, catalog_resource, quarter)
    assert contents(quarter) == first


def test_quarter_hour_export_reconciles_with_hourly_export(clickhouse, landing, landing_dir, catalog_resource, stores):
    hourly, quarter = stores
    land(landing_dir, "edge.ndjson", [event_line(*e) for e in EVENTS])
    run(clickhouse, landing, catalog_resource, hourly)
    run(clickhouse, landing, catalog_resource, quarter, assets=(billing_export,))
    reconcile(load_catalog(catalog_resource.path), records(contents(hourly)), records(contents(quarter)))

    # A late file changes only the 10:30 window: one correction revision at each grain.
    before = contents(quarter)
    land(landing_dir, "late.ndjson", [event_line(*e) for e in LATE])
    run(clickhouse, landing, catalog_resource, quarter)
    run(clickhouse, landing, catalog_resource, hourly, assets=(billing_export,))
    after = contents(quarter)
    assert {k: after[k] for k in before} == before  # earlier objects never change
    new = {k: v for k, v in after.items() if k not in before}
    assert sorted(manifests(new)) == ["_manifests/quarter_hour/2026/11/22/10/00/revision-000001.json"]
    corrections = records(new)
    windows = {(r["window_start"], r["window_end"], r["revision"], r["kind"]) for r in corrections}
    assert corrections and windows == {("2026-11-22T10:30:00Z", "2026-11-22T10:45:00Z", 1, "correction")}
    assert all(QUARTER_KEY.match(k)["mm"] == "30" for k in data_objects(new))
    assert summed(ours(records(after))) == expected(EVENTS + LATE)
    reconcile(load_catalog(catalog_resource.path), records(contents(hourly)), records(after))


def reconcile(catalog, hourly: list[dict], quarter: list[dict]) -> None:
    """Per key, the quarters (summed over revisions) roll up to the hour (summed over revisions) by the
    meter's aggregation: count/sum add exactly, max/min are the windows' extreme, and a unique_count
    hour lies between its largest window and the windows' sum (a client in two windows is one client)."""
    hours = _by_key(hourly)
    windows: dict[tuple, list[tuple[Decimal, int]]] = {}
    for (start, key), amount in _windows(quarter).items():
        assert HOUR <= start < HOUR + timedelta(hours=1)
        windows.setdefault(key, []).append(amount)
    assert set(windows) == set(hours)
    for key, (value, events) in hours.items():
        values = [v for v, _ in windows[key]]
        assert sum(e for _, e in windows[key]) == events, key
        aggregation = catalog.meter(key[2]).aggregation
        if aggregation in ("count", "sum"):
            assert sum(values, Decimal(0)) == value, key
        elif aggregation in ("max", "min"):
            assert (max(values) if aggregation == "max" else min(values)) == value, key
        else:
            assert max(values) <= value <= sum(values, Decimal(0)), key
    ids = {r["id"] for r in hourly} & {r["id"] for r in quarter}
    assert not ids  # a quarter starting on the hour never shares an id with the hour


def _windows(recs) -> dict[tuple, tuple[Decimal, int]]:
    found: dict[tuple, tuple[Decimal, int]] = {}
    for r in recs:
        usage_key = (r["tenant_id"], r["billing_account_id"], r["meter"], json.dumps(r["dimensions"]))
        key = (datetime.fromisoformat(r["window_start"]), usage_key)
        value, events = found.get(key, (Decimal(0), 0))
        found[key] = (value + Decimal(r["quantity"]), events + r["event_count"])
    return {k: v for k, v in found.items() if v != (Decimal(0), 0)}


def _by_key(recs) -> dict[tuple, tuple[Decimal, int]]:
    return {key: amount for (start, key), amount in _windows(recs).items() if start == HOUR}
