"""Attribution: half-open validity on the record's own time, and an ambiguous table refused at ingest;
attribution keys a source declares, checked at load, and entries no source can match reported."""

import warnings
from datetime import UTC, datetime

import pytest

from metering_pipeline.attribution import AttributionError
from metering_pipeline.catalog import CatalogError, load_catalog, parse_catalog
from metering_pipeline.catalog.attribution import UnusedAttributionWarning
from metering_pipeline.ingest.hour import ingest_hour
from metering_pipeline_tests.fixtures.landing import SWITCH, default_document, fill_attribution_table
from metering_pipeline_tests.support.events import land, query

HOUR = datetime(2026, 11, 22, 10, tzinfo=UTC)


def data_api_line(event_id: str, timestamp: str) -> str:
    properties = '{"usage":5,"resource_id":"db-1","provider":"p","model":"m","region":"r"}'
    return f'{{"id":"{event_id}","timestamp":"{timestamp}","event_type":"internal_embedding_total_tokens","properties":{properties}}}'


def test_valid_to_is_exclusive_and_valid_from_inclusive(clickhouse, landing, landing_dir):
    fill_attribution_table(clickhouse, [("resource", "db-1", "acme", "ba-1", datetime(2026, 11, 22, 10, 15), SWITCH)])
    land(
        landing_dir,
        "a.ndjson",
        [
            data_api_line("before", "2026-11-22T10:14:59.999999999Z"),
            data_api_line("first", "2026-11-22T10:15:00Z"),
            data_api_line("last", "2026-11-22T10:29:59.999999999Z"),
            data_api_line("after", "2026-11-22T10:30:00Z"),
        ],
        hour_dir="data-api/2026/11/22/10",
    )
    with clickhouse.get_client() as client:
        report = ingest_hour(client, landing, load_catalog(), HOUR)
    assert report.reconciles and report.accepted == 2 and report.quarantined == {"unattributed": 2}
    assert query(clickhouse, "SELECT id, billing_account_id FROM events ORDER BY time") == [("first", "ba-1"), ("last", "ba-1")]


def test_overlapping_table_entries_refuse_the_hour(clickhouse, landing, landing_dir):
    fill_attribution_table(
        clickhouse,
        [
            ("resource", "db-1", "acme", "ba-1", datetime(2026, 1, 1), None),
            ("resource", "db-1", "acme", "ba-2", SWITCH, None),
            ("resource", "db-2", "globex", "ba-3", datetime(2026, 1, 1), None),
        ],
    )
    land(landing_dir, "a.ndjson", [data_api_line("x", "2026-11-22T10:40:00Z")], hour_dir="data-api/2026/11/22/10")
    with clickhouse.get_client() as client, pytest.raises(AttributionError, match="resource db-1$"):
        ingest_hour(client, landing, load_catalog(), HOUR)


def _catalog_with(entries=(), **envoy_source) -> dict:
    document = default_document()
    document["attribution"]["entries"] = list(entries)
    for source in document["sources"]:
        if source["name"] == "envoy-gateway":
            source.update(envoy_source)
    return document


def _entry(kind: str, key: str) -> dict:
    return {"kind": kind, "key": key, "tenant_id": "acme", "billing_account_id": "ba-1"}


def test_an_entry_of_a_kind_no_source_produces_warns():
    """`route` is no kind of any source (Envoy Gateway's are httproute, tcproute, ...): it would never match."""
    with pytest.warns(UnusedAttributionWarning, match=r"kind 'route' are never used.*httproute.*service"):
        parse_catalog(_catalog_with([_entry("httproute", "team-a/web"), _entry("route", "team-a/web")]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_catalog(
            _catalog_with(
                [
                    _entry("httproute", "team-a/web"),
                    _entry("service", "x.ns.svc.cluster.local"),
                    _entry("instance", "1"),
                    _entry("resource", "db-1"),
                ]
            )
        )
        # A source whose pattern reads any kind could produce every entry's: nothing to warn about.
        parse_catalog(
            _catalog_with(
                [_entry("route", "a/b")], attribution_key={"from": ["route_name"], "pattern": r"^(?P<kind>[a-z]+)/(?P<key>[^/]+/[^/]+)"}
            )
        )


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ({"from": ["route_name"], "pattern": r"^(?P<kind>[a-z]+)/"}, "needs a named group"),
        ({"from": ["route_name"], "pattern": r"^(?P<key>.+)$"}, "needs a named group"),
        ({"from": ["route_name"], "kind": "svc", "pattern": r"^(?P<kind>[a-z]+)/(?P<key>.+)$"}, "not both"),
        ({"from": ["path"], "kind": "svc", "pattern": r"^(?P<key>.+)$"}, "field roles"),
        ({"from": ["route_name"], "kind": "svc", "pattern": r"^(?P<key>(?!x).+)$"}, "RE2"),
        ({"from": ["route_name"], "kind": "svc", "pattern": r"^(?P<key>[a-"}, "does not compile"),
    ],
)
def test_attribution_key_is_checked_at_load(key, message):
    with pytest.raises(CatalogError, match=message):
        parse_catalog(_catalog_with(attribution_key=key))


def test_a_data_api_source_takes_no_attribution_key():
    document = default_document()
    [data_api] = [s for s in document["sources"] if s["format"] == "data_api_billing_event"]
    data_api["attribution_key"] = {"from": ["resource_id"], "kind": "resource", "pattern": "(?P<key>.+)"}
    with pytest.raises(CatalogError, match="takes no attribution_key"):
        parse_catalog(document)
