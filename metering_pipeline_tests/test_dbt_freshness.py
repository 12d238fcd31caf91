"""dbt source freshness on a real embedded engine: freshness is the newest hour's event time, not loaded_at."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from metering_pipeline.dbt.prepare import ensure_manifest
from metering_pipeline.dbt.resources import dbt_resource
from metering_pipeline.resources import ClickHouseResource
from metering_pipeline.warehouse.tables import ensure_tables

pytestmark = pytest.mark.slow

USAGE_COLUMNS = ["hour", "tenant_id", "billing_account_id", "meter", "event_type", "aggregation", "unit",
                 "dimensions", "value", "event_count", "bytes_ingested", "loaded_at"]  # fmt: skip


def _usage_row(hour: datetime, loaded_at: datetime) -> list:
    return [hour, "t1", "ba-1", "api_calls", "api.call", "count", "calls", {}, 1, 1, 100, loaded_at]


def _freshness(clickhouse: ClickHouseResource) -> str:
    invocation = dbt_resource(clickhouse.url, clickhouse.database).cli(
        ["source", "freshness", "--select", "source:metering.usage_hourly", "--vars", json.dumps({"meters": [], "unique_meters": {}})],
        raise_on_error=False,
    )
    invocation.wait()
    [result] = invocation.get_artifact("sources.json")["results"]
    return result["status"]


def test_a_rerun_of_an_old_hour_does_not_make_a_stale_source_fresh(tmp_path):
    ensure_manifest()
    clickhouse = ClickHouseResource(url=f"chdb://{tmp_path / 'ch'}", lock_timeout_seconds=60)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    newest, old = now - timedelta(hours=20), now - timedelta(hours=30)
    with clickhouse.get_client() as client:
        ensure_tables(client)
        client.insert("usage_hourly", [_usage_row(old, old), _usage_row(newest, newest)], column_names=USAGE_COLUMNS)
    assert _freshness(clickhouse) == "error"  # the newest hour ended 19 h ago (error after 12 h)

    with clickhouse.get_client() as client:  # the old hour is rerun now: loaded_at is now
        client.command("ALTER TABLE usage_hourly DROP PARTITION {h:DateTime('UTC')}", parameters={"h": old})
        client.insert("usage_hourly", [_usage_row(old, now)], column_names=USAGE_COLUMNS)
    assert _freshness(clickhouse) == "error"  # still stale: no newer hour arrived

    last_complete = now - timedelta(hours=1)
    with clickhouse.get_client() as client:
        client.insert("usage_hourly", [_usage_row(last_complete, now)], column_names=USAGE_COLUMNS)
    assert _freshness(clickhouse) == "pass"  # the last complete hour is there
