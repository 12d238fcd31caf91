"""A meter may say that an absent value means "this event does not contribute" (missing_value: skip).

Without it (the default) an absent value is a lost billable quantity and the line is quarantined;
with it, the event still counts for every other meter of its type, and a value that is present
but not a quantity is quarantined either way.
"""

from decimal import Decimal

import pytest
import yaml

from metering_pipeline.catalog import CatalogError
from metering_pipeline.catalog.model import parse_catalog
from metering_pipeline_tests.fixtures.landing import default_document, write_catalog
from metering_pipeline_tests.support.events import land, line, query, run_hour, usage

TOKENS = {
    "name": "gateway_tokens",
    "event_type": "gateway.request",
    "aggregation": "sum",
    "value": "$.tokens",
    "unit": "tokens",
    "group_by": {"service_id": "$.service_id"},
}
USERS = {"name": "gateway_users", "event_type": "gateway.request", "aggregation": "unique_count", "value": "$.user", "unit": "users"}
SVC = ("acme", (("service_id", "svc"),))


def _catalog(tmp_path, missing_value: str | None):
    document = default_document()
    extra = [dict(TOKENS), dict(USERS)]
    if missing_value:
        for meter in extra:
            meter["missing_value"] = missing_value
    document["meters"] += extra
    return write_catalog(tmp_path, document)


def _lines() -> list[str]:
    base = {"service_id": "svc", "bytes_sent": 1, "bytes_received": 0}
    return [
        line("with", data={**base, "tokens": "12.5", "user": "u1"}),
        line("without", data=base),
        line("null", data={**base, "tokens": None, "user": None}),
        line("bad", data={**base, "tokens": "lots", "user": "u2"}),
        line("negative", data={**base, "tokens": -1, "user": "u3"}),
    ]


def test_skip_meter_leaves_the_other_meters_alone(tmp_path, clickhouse, landing, landing_dir):
    land(landing_dir, "a.ndjson", _lines())
    result = run_hour(clickhouse, landing, _catalog(tmp_path, "skip"))
    [counts] = [c for c in result.get_asset_check_evaluations() if c.check_name == "event_counts_match"]
    assert counts.passed  # the integrity check counts only the events that carry a skip meter's value
    # Present but not a quantity is still invalid_value; absent and null are accepted.
    reasons = sorted(r for (r,) in query(clickhouse, "SELECT reason FROM quarantine"))
    assert reasons == ["invalid_value", "invalid_value"]
    assert usage(clickhouse, "gateway_requests") == {SVC: Decimal(3)}
    assert usage(clickhouse, "gateway_egress_bytes") == {SVC: Decimal(3)}
    assert usage(clickhouse, "gateway_tokens") == {SVC: Decimal("12.5")}
    assert usage(clickhouse, "gateway_users") == {("acme", ()): Decimal(1)}
    # Only the event that carried a value counts for the skip meters.
    assert query(
        clickhouse,
        "SELECT meter, event_count FROM usage_hourly WHERE meter IN ('gateway_tokens', 'gateway_users', 'gateway_requests') ORDER BY meter",
    ) == [("gateway_requests", 3), ("gateway_tokens", 1), ("gateway_users", 1)]


def test_default_is_strict(tmp_path, clickhouse, landing, landing_dir):
    land(landing_dir, "a.ndjson", _lines())
    run_hour(clickhouse, landing, _catalog(tmp_path, None))
    assert dict(query(clickhouse, "SELECT reason, count() FROM quarantine GROUP BY reason")) == {"invalid_value": 4}
    assert usage(clickhouse, "gateway_requests") == {SVC: Decimal(1)}


@pytest.mark.parametrize(
    "entry, message",
    [
        ({**TOKENS, "missing_value": "ignore"}, "missing_value must be one of"),
        ({"name": "c", "event_type": "t", "aggregation": "count", "unit": "u", "missing_value": "skip"}, "not count"),
    ],
)
def test_catalog_refuses_bad_missing_value(entry, message):
    document = yaml.safe_load(yaml.safe_dump(default_document()))
    document["meters"].append(entry)
    with pytest.raises(CatalogError, match=message):
        parse_catalog(document)
