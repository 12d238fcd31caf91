"""An installation whose `quarantine` table predates `tenant_ids` keeps working: `explain` falls back to
the text match on it, and the next ingest adds the column (old rows: empty), swaps the hour in and
records the tenants from then on. Real chDB, the real ingest."""

from datetime import UTC, datetime

import pytest

from metering_pipeline.catalog import load_catalog
from metering_pipeline.ingest.hour import ingest_hour
from metering_pipeline.provenance.explain import Target, explain
from metering_pipeline.warehouse.tables import EVENTS, QUARANTINE, USAGE_HOURLY, ensure_tables
from metering_pipeline_tests.support.events import land, line

H9, H10 = datetime(2026, 11, 22, 9, tzinfo=UTC), datetime(2026, 11, 22, 10, tzinfo=UTC)
# The quarantine table as releases before tenant_ids created it.
OLD_QUARANTINE = """
    CREATE TABLE quarantine (
        hour DateTime('UTC'), landing_source LowCardinality(String), source_file String, line_no UInt32,
        reason LowCardinality(String), detail String, raw String, raw_bytes UInt64, loaded_at DateTime('UTC')
    ) ENGINE = MergeTree PARTITION BY hour ORDER BY (landing_source, source_file, line_no)
"""


def _target(hour: datetime) -> Target:
    return Target(hour, "acme", "", "gateway_egress_bytes", (("service_id", "svc"),))


def _columns(client) -> list[str]:
    return [
        name
        for (name,) in client.query(
            "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'quarantine'"
        ).result_rows
    ]


def _quarantined(client, catalog, hour: datetime) -> list[tuple]:
    found = explain(client, catalog, _target(hour)).quarantined
    return [(q["file"].rsplit("/", 1)[1], q["line"], q["reason"], q["match"]) for q in found]


@pytest.mark.slow
def test_an_old_quarantine_table_gains_tenant_ids_and_explain_works_before_and_after(clickhouse, landing, landing_dir):
    catalog = load_catalog()
    old_row = [H9.replace(tzinfo=None), "events", "events/2026/11/22/09/a.ndjson", 1, "malformed_json", "line is not valid JSON"]
    old_row += ['{"subject": "acme", "id": ', 27, H9.replace(tzinfo=None)]
    names = ["hour", "landing_source", "source_file", "line_no", "reason", "detail", "raw", "raw_bytes", "loaded_at"]
    with clickhouse.get_client() as client:
        client.command(OLD_QUARANTINE)
        client.insert(QUARANTINE, [old_row], column_names=names)
        ensure_tables(client, EVENTS, USAGE_HOURLY)
        assert "tenant_ids" not in _columns(client)
        assert _quarantined(client, catalog, H9) == [("a.ndjson", 1, "malformed_json", "mentions")]  # no column: the text decides

    land(landing_dir, "b.ndjson", [line("ok"), line("neg", data={"service_id": "svc", "bytes_sent": -1, "bytes_received": 1})])
    with clickhouse.get_client() as client:
        assert ingest_hour(client, landing, catalog, H10).reconciles  # the column is added, the hour swapped in
        assert "tenant_ids" in _columns(client)
        rows = client.query("SELECT toHour(hour), line_no, reason, tenant_ids FROM quarantine ORDER BY hour").result_rows
        assert rows == [(9, 1, "malformed_json", []), (10, 2, "invalid_value", ["acme"])]
        assert _quarantined(client, catalog, H9) == [("a.ndjson", 1, "malformed_json", "mentions")]
        assert _quarantined(client, catalog, H10) == [("b.ndjson", 2, "invalid_value", "tenant")]
