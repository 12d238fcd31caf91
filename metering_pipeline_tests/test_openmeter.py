"""Coming from OpenMeter: its meters as catalog meters, its events (single and batch) through the real assets.

The fixtures (fixtures/openmeter, provenance in SOURCES.md) are an OpenMeter config's `meters:`
and CloudEvents as OpenMeter's quickstart, e2e tests and SDK examples send them. Expected
numbers are worked out by hand with OpenMeter's meter semantics (openmeter/streaming/clickhouse/
meter_query.go): COUNT counts every event of the type; SUM, MIN and MAX read the value as a
number and leave out an event without it; UNIQUE_COUNT counts distinct values; (source, id)
dedup.
"""

import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from metering_pipeline.catalog import CatalogError
from metering_pipeline.catalog.model import parse_catalog
from metering_pipeline.catalog.openmeter import DEFAULT_UNIT, openmeter_meters
from metering_pipeline_tests.fixtures.landing import FIXTURES, HOUR_PATH, quarantine_reasons, write_catalog
from metering_pipeline_tests.support.events import event, land, line, materialization_metadata, query, run_hour, usage

OPENMETER_CONFIG = FIXTURES / "openmeter" / "config.yaml"
GET_HELLO = (("method", "GET"), ("route", "/hello"))
POST_PRODUCT = (("method", "POST"), ("route", "/products/:product_id"))


def _om_meters() -> list[dict]:
    return yaml.safe_load(OPENMETER_CONFIG.read_text(encoding="utf-8"))["meters"]


def _catalog_document(fields: dict | None = None) -> dict:
    source = {"name": "openmeter", "format": "cloudevents", "description": "OpenMeter's CloudEvents"}
    if fields:
        source["fields"] = fields
    return {"sources": [source], "openmeter": {"units": {"tokens_total": "tokens", "api_requests_duration": "ms"}, "meters": _om_meters()}}


def _land(landing_dir: Path, *names: str) -> None:
    target = Path(landing_dir) / "openmeter" / HOUR_PATH
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        (target / name).write_bytes((FIXTURES / "openmeter" / name).read_bytes())


def test_openmeter_meters_give_openmeter_numbers(tmp_path, clickhouse, landing, landing_dir):
    """Single events, batches and a tenant read from data.customerId, against the OpenMeter config's meters."""
    catalog = write_catalog(tmp_path, _catalog_document({"subject": ["$.subject", "$.data.customerId"]}))
    _land(landing_dir, "events.ndjson", "batch.ndjson", "customer-id.ndjson", "batch-broken.ndjson")
    result = run_hour(clickhouse, landing, catalog)

    # COUNT of `request`, by method and route. customer-1 GET: E2 (its resent copy once), E10, b-3, b-4
    # and c-3 (subject wins over data.customerId); customer-3: c-1 (no subject), c-2 (blank subject).
    assert usage(clickhouse, "api_requests_total") == {
        ("quickstart-curl", GET_HELLO): Decimal(1),
        ("customer-1", GET_HELLO): Decimal(5),
        ("customer-1", POST_PRODUCT): Decimal(1),
        ("customer-2", GET_HELLO): Decimal(1),  # b-1 twice in one batch: once
        ("customer-3", GET_HELLO): Decimal(2),
    }
    # SUM of duration_ms: the quickstart curl event has none, so it adds nothing (no row), as in OpenMeter.
    assert usage(clickhouse, "api_requests_duration") == {
        ("customer-1", GET_HELLO): Decimal("128.5"),  # "100" + "2.5" + 5 + "20" + "1"
        ("customer-1", POST_PRODUCT): Decimal(250),
        ("customer-2", GET_HELLO): Decimal(10),
        ("customer-3", GET_HELLO): Decimal(100),  # "40" + "60"
    }
    assert usage(clickhouse, "api_requests_duration_max") == {
        ("customer-1", ()): Decimal(250),
        ("customer-2", ()): Decimal(10),
        ("customer-3", ()): Decimal(60),
    }
    assert usage(clickhouse, "api_requests_duration_min") == {
        ("customer-1", ()): Decimal(1),
        ("customer-2", ()): Decimal(10),
        ("customer-3", ()): Decimal(40),
    }
    assert usage(clickhouse, "tokens_total") == {
        ("customer-1", (("model", "gpt-4o"), ("type", "input"))): Decimal(100),
        ("customer-1", (("model", "gpt-4o"), ("type", "output"))): Decimal(25),
        ("customer-2", (("model", "gpt-4o"), ("type", "input"))): Decimal(7),
    }
    assert usage(clickhouse, "entitlement_uc_meter") == {("customer-2", ()): Decimal(2)}  # user-1, user-2, user-1
    units = dict(query(clickhouse, "SELECT DISTINCT meter, unit FROM usage_hourly"))
    assert units["tokens_total"] == "tokens" and units["api_requests_total"] == DEFAULT_UNIT

    assert quarantine_reasons(clickhouse, "openmeter") == {
        "missing_field": 2,  # c-4: neither subject nor data.customerId; the batch holding x-2 (blank subject)
        "invalid_field": 1,  # c-5: data.customerId 42, a number
        "malformed_json": 2,  # the empty batch; the batch with the element 42
    }
    details = dict(query(clickhouse, "SELECT line_no, detail FROM quarantine WHERE reason = 'malformed_json'"))
    assert details == {1: "empty CloudEvents batch", 2: "CloudEvents batch element is not an object"}
    # x-1 and x-3 were valid events in quarantined batches: none of them counted.
    assert query(clickhouse, "SELECT count() FROM events WHERE id LIKE 'x-%'") == [(0,)]

    meta = materialization_metadata(result, "accepted_events")
    # events 10 lines (9 accepted, 1 duplicate), batch 2 accepted, customer-id 3 accepted + 2 quarantined,
    # batch-broken 3 quarantined.
    assert (meta["lines_read"], meta["accepted"], meta["duplicates"], meta["quarantined"]) == (20, 14, 1, 5)
    assert meta["lines_read"] == meta["accepted"] + meta["duplicates"] + meta["quarantined"]
    assert query(clickhouse, "SELECT count() FROM events") == [(16,)]  # 9 + 4 (b-1 once) + 3
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["lines_reconcile"] is True


def test_tenant_from_data_only_when_the_catalog_maps_it(tmp_path, clickhouse, landing, landing_dir):
    """Without a `fields` mapping the tenant is `subject` alone: the same lines are missing their tenant."""
    catalog = write_catalog(tmp_path, _catalog_document())
    _land(landing_dir, "customer-id.ndjson")
    run_hour(clickhouse, landing, catalog)
    assert quarantine_reasons(clickhouse, "openmeter") == {"missing_field": 4}
    assert usage(clickhouse, "api_requests_total") == {("customer-1", GET_HELLO): Decimal(1)}  # c-3


def test_batch_lines_dedup_and_account_once(clickhouse, landing, landing_dir, catalog_resource):
    """A batch line is accepted if any event is new, a duplicate if all were seen; bad batches are malformed."""

    def batch(*events) -> str:
        return json.dumps(list(events))

    a, b, c = event("a"), event("b"), event("c")
    land(
        landing_dir,
        "a.ndjson",
        [
            line("a"),
            batch(a, b),  # b is new: accepted
            batch(b, a),  # every event seen before: duplicate
            batch(c, c),  # c once
            "  " + batch(event("d")),  # leading whitespace: still a batch
            "[]",
            batch(event("e"), 5),
            batch(event("f"), "text"),
            batch([event("g")]),  # a nested array is not an event
            "[{not json",
        ],
    )
    result = run_hour(clickhouse, landing, catalog_resource)
    meta = materialization_metadata(result, "accepted_events")
    assert (meta["lines_read"], meta["accepted"], meta["duplicates"], meta["quarantined"]) == (10, 4, 1, 5)
    assert sorted(i for (i,) in query(clickhouse, "SELECT id FROM events")) == ["a", "b", "c", "d"]
    assert usage(clickhouse, "gateway_requests") == {("acme", (("service_id", "svc"),)): Decimal(4)}
    assert dict(query(clickhouse, "SELECT reason, count() FROM quarantine GROUP BY reason")) == {"malformed_json": 5}
    # A batch line's bytes count once (on its first event), not once per event it holds.
    assert query(clickhouse, "SELECT id, bytes FROM events WHERE id IN ('c', 'd') ORDER BY id") == [
        ("c", len(batch(c, c))),
        ("d", len("  " + batch(event("d")))),
    ]


def test_openmeter_meters_convert():
    converted = {m["name"]: m for m in openmeter_meters({"meters": _om_meters(), "units": {"tokens_total": "tokens"}})}
    assert converted["tokens_total"] == {
        "name": "tokens_total",
        "event_type": "prompt",
        "aggregation": "sum",
        "unit": "tokens",
        "description": "AI Token Usage",
        "phase": "draft",
        "value": "$.tokens",
        "missing_value": "skip",
        "group_by": {"model": "$.model", "type": "$.type"},
    }
    assert converted["api_requests_total"]["aggregation"] == "count" and "value" not in converted["api_requests_total"]
    assert converted["entitlement_uc_meter"]["aggregation"] == "unique_count"
    assert converted["api_requests_duration"]["unit"] == DEFAULT_UNIT
    catalog = parse_catalog(_catalog_document() | {"openmeter": {"phase": "published", "meters": _om_meters()}})
    assert {m.phase for m in catalog.meters} == {"published"} and len(catalog.meters) == 6


def _om(**overrides) -> dict:
    meter = {"slug": "tokens_total", "eventType": "prompt", "aggregation": "SUM", "valueProperty": "$.tokens"}
    return {k: v for k, v in {**meter, **overrides}.items() if v is not None}


@pytest.mark.parametrize(
    "section, message",
    [
        ({"meters": [_om(aggregation="AVG")]}, "meter 'tokens_total': aggregation AVG is not supported"),
        ({"meters": [_om(aggregation="LATEST")]}, "meter 'tokens_total': aggregation LATEST is not supported"),
        ({"meters": [_om(aggregation="sum")]}, "aggregation must be one of"),
        ({"meters": [_om(eventFrom="2024-01-01T00:00:00Z")]}, "meter 'tokens_total': keys not supported here: ['eventFrom']"),
        ({"meters": [_om(value_property="$.tokens")]}, "keys not supported here: ['value_property']"),
        ({"meters": [_om(slug=None)]}, "without a slug"),
        ({"meters": [_om(aggregation="COUNT")]}, "not allowed for count"),
        ({"meters": [_om(valueProperty=None)]}, "'value' is required for sum"),
        ({"meters": [_om(valueProperty="$.usage[0]")]}, "meter 'tokens_total': unsupported JSONPath"),
        ({"meters": [_om(groupBy=["$.model"])]}, "groupBy must map a name to a JSONPath"),
        ({"meters": [_om()], "sink": {"kafka": {}}}, "openmeter: keys not supported here: ['sink']"),
        ({"meters": [_om()], "units": {"tokens": "tokens"}}, "units names meters that are not in openmeter.meters: ['tokens']"),
        ({"meters": [_om()], "units": {"tokens_total": ""}}, "units must map a meter slug to a non-empty unit"),
        ({"meters": [_om()], "phase": "live"}, "phase must be one of"),
        ({"meters": [_om(), _om()]}, "duplicate meter names: ['tokens_total']"),
        ({"meters": {"slug": "x"}}, "meters must be a list"),
    ],
)
def test_catalog_refuses_openmeter_meters(section, message):
    document = {"sources": [{"name": "openmeter", "format": "cloudevents"}], "openmeter": section}
    with pytest.raises(CatalogError) as raised:
        parse_catalog(document)
    assert message in str(raised.value)


def test_cloudevents_fields_are_checked():
    source = {"name": "openmeter", "format": "cloudevents"}
    meters = {"meters": [{"name": "m", "event_type": "t", "aggregation": "count", "unit": "u"}]}
    parse_catalog({"sources": [source | {"fields": {"subject": ["$.subject", "$.data.customerId"], "id": "$.id"}}], **meters})
    with pytest.raises(CatalogError, match="fields unknown to cloudevents: \\['tenant'\\]"):
        parse_catalog({"sources": [source | {"fields": {"tenant": "$.data.customerId"}}], **meters})
    with pytest.raises(CatalogError, match="unsupported JSONPath"):
        parse_catalog({"sources": [source | {"fields": {"subject": "$.data[0]"}}], **meters})
