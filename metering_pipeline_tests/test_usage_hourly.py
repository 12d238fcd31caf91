"""usage_hourly: exact sums, dedup, aggregations, hostile tenant ids, gzip, empty hours."""

from decimal import Decimal

import yaml

from metering_pipeline.resources import CatalogResource
from metering_pipeline_tests.support.events import land, line, query, run_hour, usage


def test_decimal_sums_are_exact(clickhouse, landing, landing_dir, catalog_resource):
    data = {"service_id": "svc", "bytes_sent": "0.1", "bytes_received": 0.1}
    land(landing_dir, "a.ndjson", [line(f"e{i}", data=data) for i in range(10)])
    run_hour(clickhouse, landing, catalog_resource)
    assert usage(clickhouse, "gateway_egress_bytes") == {("acme", (("service_id", "svc"),)): Decimal("1")}
    assert usage(clickhouse, "gateway_ingress_bytes") == {("acme", (("service_id", "svc"),)): Decimal("1")}
    assert usage(clickhouse, "gateway_requests") == {("acme", (("service_id", "svc"),)): Decimal("10")}


def test_dedup_keeps_first_by_file_then_line(clickhouse, landing, landing_dir, catalog_resource):
    first = {"service_id": "first", "bytes_sent": 1, "bytes_received": 0}
    later = {"service_id": "later", "bytes_sent": 100, "bytes_received": 0}
    land(landing_dir, "b.ndjson", [line("dup", data=later)])
    land(landing_dir, "a.ndjson", [line("x"), line("dup", data=first), line("dup", data=later)])
    land(landing_dir, "c.ndjson", [line("dup", source="other-source", data=later)])
    run_hour(clickhouse, landing, catalog_resource)
    rows = query(clickhouse, "SELECT source, source_file, line_no FROM events WHERE id = 'dup' ORDER BY source")
    assert rows == [("edge", "events/2026/11/22/10/a.ndjson", 2), ("other-source", "events/2026/11/22/10/c.ndjson", 1)]
    assert usage(clickhouse, "gateway_egress_bytes")[("acme", (("service_id", "first"),))] == Decimal(1)


def test_invalid_first_copy_does_not_hide_a_valid_duplicate(clickhouse, landing, landing_dir, catalog_resource):
    land(landing_dir, "a.ndjson", [line("dup", time="bad"), line("dup")])
    run_hour(clickhouse, landing, catalog_resource)
    assert query(clickhouse, "SELECT line_no FROM events") == [(2,)]


def test_hostile_tenant_ids_are_data(clickhouse, landing, landing_dir, catalog_resource):
    tenants = ["o'brien", 'quote"double', "semi; DROP TABLE events; --", "ünïcødé-租户", "back\\slash", "{hour:String}"]
    land(landing_dir, "a.ndjson", [line(f"e{i}", subject=t) for i, t in enumerate(tenants)])
    run_hour(clickhouse, landing, catalog_resource)
    assert {tenant for tenant, _ in usage(clickhouse, "gateway_requests")} == set(tenants)
    assert query(clickhouse, "SELECT count() FROM events") == [(len(tenants),)]


def test_gzip_and_plain_files_together(clickhouse, landing, landing_dir, catalog_resource):
    land(landing_dir, "a.ndjson.gz", [line(f"z{i}") for i in range(7)])
    land(landing_dir, "b.ndjson", [line("p1")])
    run_hour(clickhouse, landing, catalog_resource)
    assert usage(clickhouse, "gateway_requests") == {("acme", (("service_id", "svc"),)): Decimal(8)}


def test_empty_hour_materializes_zero_usage(clickhouse, landing, catalog_resource):
    run_hour(clickhouse, landing, catalog_resource)
    assert query(clickhouse, "SELECT count() FROM usage_hourly") == [(0,)]
    assert query(clickhouse, "SELECT count() FROM events") == [(0,)]


def test_rerun_of_an_hour_that_lost_its_events_empties_its_usage(clickhouse, landing, landing_dir, catalog_resource):
    """No meter has events, so no usage SELECT runs at all: the rerun still replaces the hour with nothing."""
    path = land(landing_dir, "a.ndjson", [line("a"), line("b", type="api.call", data={"endpoint": "/x", "user_id": "u"})])
    run_hour(clickhouse, landing, catalog_resource)
    assert query(clickhouse, "SELECT count() > 0 FROM usage_hourly") == [(1,)]
    path.unlink()
    run_hour(clickhouse, landing, catalog_resource)
    assert query(clickhouse, "SELECT count() FROM usage_hourly") == [(0,)]


def test_aggregations_unique_max_min(clickhouse, landing, landing_dir, tmp_path):
    catalog = {
        "sources": [{"name": "events", "format": "cloudevents"}],
        "meters": [
            {"name": "users", "event_type": "api.call", "aggregation": "unique_count", "value": "$.user", "unit": "users"},
            {"name": "peak", "event_type": "api.call", "aggregation": "max", "value": "$.load", "unit": "x"},
            {"name": "low", "event_type": "api.call", "aggregation": "min", "value": "$.load", "unit": "x"},
            {
                "name": "by_region",
                "event_type": "api.call",
                "aggregation": "count",
                "unit": "calls",
                "group_by": {"region": '$.where["region name"]'},
            },
        ],
    }
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(catalog))
    calls = [("u1", "2.5", "eu"), ("u2", -1, "eu"), ("u1", 7, "us"), ("u3", "0.000000001", None)]
    land(
        landing_dir,
        "a.ndjson",
        [
            line(f"c{i}", type="api.call", data={"user": u, "load": v, "where": {"region name": r} if r else {}})
            for i, (u, v, r) in enumerate(calls)
        ],
    )
    run_hour(clickhouse, landing, CatalogResource(path=str(path)))
    assert usage(clickhouse, "users") == {("acme", ()): Decimal(3)}
    assert usage(clickhouse, "peak") == {("acme", ()): Decimal(7)}
    assert usage(clickhouse, "low") == {("acme", ()): Decimal(-1)}
    assert usage(clickhouse, "by_region") == {
        ("acme", (("region", "eu"),)): Decimal(2),
        ("acme", (("region", "us"),)): Decimal(1),
        ("acme", (("region", ""),)): Decimal(1),
    }


def test_each_grain_gets_its_own_rows_from_the_same_events(clickhouse, landing, landing_dir, tmp_path):
    """usage_hourly holds one row per group and usage_quarter_hourly one per group and window, each
    aggregated over its own events: a user seen in two windows is one user of the hour."""
    catalog = {
        "sources": [{"name": "events", "format": "cloudevents"}],
        "meters": [
            {"name": "users", "event_type": "api.call", "aggregation": "unique_count", "value": "$.user", "unit": "users"},
            {"name": "peak", "event_type": "api.call", "aggregation": "max", "value": "$.load", "unit": "x"},
        ],
    }
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(catalog))
    calls = [("10:05", "u1", 1), ("10:20", "u1", 5), ("10:29", "u2", 2), ("10:50", "u3", 3)]
    lines = [line(f"c{i}", type="api.call", time=f"2026-11-22T{at}:00Z", data={"user": u, "load": v}) for i, (at, u, v) in enumerate(calls)]
    land(landing_dir, "a.ndjson", lines)
    run_hour(clickhouse, landing, CatalogResource(path=str(path)))
    hourly = query(clickhouse, "SELECT meter, toString(value), event_count FROM usage_hourly ORDER BY meter")
    assert hourly == [("peak", "5", 4), ("users", "3", 4)]
    windows = query(
        clickhouse,
        "SELECT meter, toMinute(window_start), toString(value), event_count FROM usage_quarter_hourly ORDER BY meter, window_start",
    )
    assert windows == [
        ("peak", 0, "1", 1),
        ("peak", 15, "5", 2),
        ("peak", 45, "3", 1),
        ("users", 0, "1", 1),
        ("users", 15, "2", 2),
        ("users", 45, "1", 1),
    ]
