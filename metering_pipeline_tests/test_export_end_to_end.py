"""Landing -> ingest -> usage_hourly -> billing_export to S3, then a late file and a withdrawn file.

The downstream view (records summed over revisions per tenant x meter x dimensions) must
equal usage_hourly after every run, and earlier objects must never change.
"""

from decimal import Decimal

import dagster as dg
import pytest

from metering_pipeline.export.assets import billing_export
from metering_pipeline.export.store import exported_keys
from metering_pipeline.ingest.assets import ingest
from metering_pipeline.samples import write_sample_hour
from metering_pipeline.usage.assets import usage_hourly
from metering_pipeline_tests.support.events import land, line, query
from metering_pipeline_tests.support.export_helpers import HOUR, KEY, checks, make_store, manifests, records, revisions, stored, totals


def run_all(clickhouse, landing, catalog_resource, store):
    result = dg.materialize(
        [ingest, usage_hourly, billing_export],
        partition_key=KEY,
        resources={"clickhouse": clickhouse, "landing": landing, "catalog": catalog_resource, "export_store": store},
    )
    assert result.success
    return result


def usage_now(clickhouse) -> dict:
    rows = query(clickhouse, "SELECT tenant_id, billing_account_id, meter, dimensions, value, event_count FROM usage_hourly")
    return {(t, a, m, tuple(sorted(d.items()))): (Decimal(v), int(c)) for t, a, m, d, v, c in rows if v or c}


@pytest.mark.slow  # three full landing -> export rounds (~10 s)
def test_landing_to_export_with_a_late_file_and_a_withdrawn_file(clickhouse, landing, landing_dir, catalog_resource, s3, tmp_path):
    store = make_store("s3", tmp_path, s3)
    plain, packed = write_sample_hour(landing_dir, HOUR, events=200)
    result = run_all(clickhouse, landing, catalog_resource, store)
    first = stored(store)
    assert totals(records(first)) == usage_now(clickhouse) and revisions(clickhouse) == [0]
    assert all(checks(result).values())
    assert {r["kind"] for r in records(first)} == {"usage"}

    # A late file: a new tenant and more requests for an existing one.
    land(landing_dir, "late.ndjson", [line("late-1", subject="newcomer"), line("late-2", subject="acme")], "events/2026/11/22/10")
    result = run_all(clickhouse, landing, catalog_resource, store)
    second = stored(store)
    assert {k: second[k] for k in first} == first and revisions(clickhouse) == [0, 1]
    assert totals(records(second)) == usage_now(clickhouse) and all(checks(result).values())
    assert any(r["tenant_id"] == "newcomer" and r["revision"] == 1 for r in records(second))

    # A withdrawn file: usage goes down, so revision 2 carries negative deltas.
    packed.unlink()
    result = run_all(clickhouse, landing, catalog_resource, store)
    third = stored(store)
    assert {k: third[k] for k in second} == second and revisions(clickhouse) == [0, 1, 2]
    assert any(Decimal(r["quantity"]) < 0 for r in records(third) if r["revision"] == 2)
    assert totals(records(third)) == usage_now(clickhouse) and all(checks(result).values())
    assert len(manifests(third)) == 3

    keys = exported_keys(clickhouse, [KEY], store)
    assert sorted(keys) == sorted(f"s3://{s3.bucket}/billing/v1/{k}" for k in third)
