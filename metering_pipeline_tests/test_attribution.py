"""Attribution: half-open validity on the record's own time, and an ambiguous table refused at ingest."""

from datetime import datetime, timezone

import pytest

from metering_pipeline.attribution import AttributionError
from metering_pipeline.catalog import load_catalog
from metering_pipeline.ingest.hour import ingest_hour
from metering_pipeline_tests.fixtures.landing import SWITCH, fill_attribution_table
from metering_pipeline_tests.support.events import land, query

HOUR = datetime(2026, 11, 22, 10, tzinfo=timezone.utc)


def data_api_line(event_id: str, timestamp: str) -> str:
    return ('{"id":"%s","timestamp":"%s","event_type":"internal_embedding_total_tokens","properties":'
            '{"usage":5,"resource_id":"db-1","provider":"p","model":"m","region":"r"}}' % (event_id, timestamp))


def test_valid_to_is_exclusive_and_valid_from_inclusive(clickhouse, landing, landing_dir):
    fill_attribution_table(clickhouse, [("resource", "db-1", "acme", "ba-1", datetime(2026, 11, 22, 10, 15), SWITCH)])
    land(landing_dir, "a.ndjson", [
        data_api_line("before", "2026-11-22T10:14:59.999999999Z"),
        data_api_line("first", "2026-11-22T10:15:00Z"),
        data_api_line("last", "2026-11-22T10:29:59.999999999Z"),
        data_api_line("after", "2026-11-22T10:30:00Z"),
    ], hour_dir="data-api/2026/11/22/10")
    with clickhouse.get_client() as client:
        report = ingest_hour(client, landing, load_catalog(), HOUR)
    assert report.reconciles and report.accepted == 2 and report.quarantined == {"unattributed": 2}
    assert query(clickhouse, "SELECT id, billing_account_id FROM events ORDER BY time") == [("first", "ba-1"), ("last", "ba-1")]


def test_overlapping_table_entries_refuse_the_hour(clickhouse, landing, landing_dir):
    fill_attribution_table(clickhouse, [
        ("resource", "db-1", "acme", "ba-1", datetime(2026, 1, 1), None),
        ("resource", "db-1", "acme", "ba-2", SWITCH, None),
        ("resource", "db-2", "globex", "ba-3", datetime(2026, 1, 1), None),
    ])
    land(landing_dir, "a.ndjson", [data_api_line("x", "2026-11-22T10:40:00Z")], hour_dir="data-api/2026/11/22/10")
    with clickhouse.get_client() as client, pytest.raises(AttributionError, match="resource db-1$"):
        ingest_hour(client, landing, load_catalog(), HOUR)
