"""Data API BillingEvents: today's release (no model_type) and lines with model_type, through the real assets.

Fixture shapes and the producer commits they follow: fixtures/data_api/SOURCES.md.
"""

import json
from datetime import datetime
from decimal import Decimal

import pytest

from metering_pipeline.catalog import CatalogError
from metering_pipeline.catalog.sources import parse_source
from metering_pipeline_tests.fixtures.landing import (
    default_document,
    fill_attribution_table,
    land_fixture,
    quarantine_reasons,
    usage_by_account,
    write_catalog,
)
from metering_pipeline_tests.support.events import land, materialization_metadata, query, run_hour

SINCE = datetime(2026, 1, 1)
HOUR_DIR = "data-api/2026/11/22/10"
OPENAI = (("model", "text-embedding-3-small"), ("provider", "openai"), ("region", "us-east-2"))
NVIDIA = (("model", "nv-rerank-qa-mistral-4b:1"), ("provider", "nvidia"), ("region", "eu-west-1"))
# current-release.ndjson: tenant ids as the Data API writes them (Tenant.toString(), lower case)
T1, T2 = "0f3c9e2a-7b41-4d8e-9c25-61a7f0b4d3e8", "a4d2b6c8-1e3f-4a5b-8c7d-9e0f1a2b3c4d"
OPENAI_EAST = (("model", "text-embedding-3-small"), ("provider", "openai"), ("region", "us-east-2"))
NV_EMBED = (("model", "NV-Embed-QA"), ("provider", "nvidia"), ("region", "us-west-2"))
NV_RERANK = (("model", "nvidia/llama-3.2-nv-rerankqa-1b-v2"), ("provider", "nvidia"), ("region", "us-west-2"))


def _attribution(clickhouse):
    fill_attribution_table(
        clickhouse,
        [
            ("resource", "db-1", "acme", "ba-acme-1", SINCE, None),
            ("resource", "db-2", "globex", "ba-globex", SINCE, None),
            ("resource", T1, "initech", "ba-initech", SINCE, None),
            ("resource", T2, "umbrella", "ba-umbrella", SINCE, None),
        ],
    )


def _usage(clickhouse) -> dict:
    return {(t, a, m.removeprefix("data-api/"), d): v for (t, a, m, d), v in usage_by_account(clickhouse, "data-api/").items()}


def _record(event_id, usage=5, event_type="external_model_total_tokens", **properties) -> dict:
    """A line of today's release (BillingEvent.java at stargate/data-api ada41bd8), with overrides."""
    props = {
        "usage": usage,
        "region": "us-east-2",
        "resource_type": "serverless_database",
        "resource_id": T1,
        "provider": "openai",
        "model": "text-embedding-3-small",
        **properties,
    }
    return {
        "id": event_id,
        "timestamp": "2026-11-22T10:20:00.250Z",
        "product": "serverless",
        "event_type": event_type,
        "properties": {k: v for k, v in props.items() if v is not ...},
    }


def _verdicts(clickhouse) -> list[tuple[int, str, str]]:
    return query(clickhouse, "SELECT line_no, reason, detail FROM quarantine WHERE landing_source = 'data-api' ORDER BY line_no")


def test_data_api_fixtures_golden_usage(clickhouse, landing, landing_dir, catalog_resource):
    land_fixture(landing_dir, "data-api", "data_api")
    _attribution(clickhouse)
    result = run_hour(clickhouse, landing, catalog_resource)

    acme, globex = ("acme", "ba-acme-1"), ("globex", "ba-globex")
    initech, umbrella = ("initech", "ba-initech"), ("umbrella", "ba-umbrella")
    expected = {
        # billing-events.ndjson (lines carrying model_type): one call at 10:01:02Z (today's names) and one
        # at 10:40:00.123456Z (external_model_* with model_type embedding).
        (*acme, "external_embedding_total_tokens", OPENAI): 1200 + 800,
        (*acme, "external_embedding_egress_bytes", OPENAI): 4096 + 1024,
        (*acme, "external_embedding_ingress_bytes", OPENAI): 512 + 256,
        # One call at 10:20:00.123Z, and internal_model_total_tokens (model_type reranking) at 10:59:59.999999999Z.
        (*globex, "internal_reranking_total_tokens", NVIDIA): 300 + 50,
        (*globex, "internal_reranking_egress_bytes", NVIDIA): 100,
        (*globex, "internal_reranking_ingress_bytes", NVIDIA): 200,
        # Its line 16 has no model_type: the template list falls back to today's type.
        (*acme, "external_model_total_tokens", OPENAI): 1,
        # current-release.ndjson: openai calls at 10:05:17.482Z and 10:59:59.999999999Z for T1.
        (*initech, "external_model_total_tokens", OPENAI_EAST): 9 + 21,
        (*initech, "external_model_egress_bytes", OPENAI_EAST): 1843 + 2048,
        (*initech, "external_model_ingress_bytes", OPENAI_EAST): 33412 + 34000,
        # nvidia (internal) embedding call at 10:30:00Z for T1, reranking call at 10:47:03.506481Z for T2.
        (*initech, "internal_model_total_tokens", NV_EMBED): 512,
        (*initech, "internal_model_egress_bytes", NV_EMBED): 3074,
        (*initech, "internal_model_ingress_bytes", NV_EMBED): 12288,
        (*umbrella, "internal_model_total_tokens", NV_RERANK): 7,
        (*umbrella, "internal_model_egress_bytes", NV_RERANK): 2210,
        (*umbrella, "internal_model_ingress_bytes", NV_RERANK): 118,
    }
    assert _usage(clickhouse) == {k: Decimal(v) for k, v in expected.items()}

    assert quarantine_reasons(clickhouse, "data-api") == {
        "missing_field": 3,  # no resource_id; id of spaces; resource_id ""
        "invalid_field": 1,  # usage "12", a JSON string
        "invalid_time": 2,  # two fraction digits; +00:00 instead of Z
        "unknown_event_type": 1,  # internal_model_prompt_tokens
        "invalid_value": 4,  # usage 12.5 (twice), 2^63, -3
        "malformed_json": 1,
        "unattributed": 2,  # db-404; a tenant id with no entry
    }
    meta = materialization_metadata(result, "accepted_events")
    # billing-events.ndjson 18 lines (11 accepted, 1 duplicate, 6 quarantined), current-release.ndjson 21 (12, 1, 8)
    assert (meta["lines_read"], meta["accepted"], meta["duplicates"], meta["quarantined"]) == (39, 23, 2, 14)

    # data: the derived flat members, then the record's own other members (properties nested, as written).
    [(data,)] = query(clickhouse, "SELECT data FROM events WHERE id = '7ec7b7c3-126b-412a-babf-fd79d002e921'")
    assert json.loads(data) == {
        "event_type": "internal_model_total_tokens",
        "usage": 7,
        "product": "serverless",
        "region": "us-west-2",
        "provider": "nvidia",
        "model": "nvidia/llama-3.2-nv-rerankqa-1b-v2",
        "model_type": None,
        "resource_type": "serverless_database",
        "resource_id": T2,
        "id": "7ec7b7c3-126b-412a-babf-fd79d002e921",
        "timestamp": "2026-11-22T10:47:03.506481Z",
        "properties": {
            "usage": 7,
            "region": "us-west-2",
            "resource_type": "serverless_database",
            "resource_id": T2,
            "provider": "nvidia",
            "model": "nvidia/llama-3.2-nv-rerankqa-1b-v2",
        },
    }


def test_data_api_types_and_blanks(clickhouse, landing, landing_dir, catalog_resource):
    """Absent, null or blank is missing_field; a JSON type the producer never writes is invalid_field;
    the right type but no int64 is invalid_value."""
    _attribution(clickhouse)
    cases = [  # (record, reason or None when accepted)
        (_record("ok-1", usage=2), None),
        (_record("   "), "missing_field"),  # id of spaces
        (_record(""), "missing_field"),  # empty id
        (_record(None), "missing_field"),
        (_record("blank-resource", resource_id=" \t "), "missing_field"),
        (_record("null-resource", resource_id=None), "missing_field"),
        (_record("no-resource", resource_id=...), "missing_field"),
        (_record("no-usage", usage=...), "missing_field"),
        (_record("null-usage", usage=None), "missing_field"),
        (_record("blank-usage", usage="  "), "missing_field"),  # blank first, though a string
        (_record("blank-type", event_type=" "), "missing_field"),
        (_record("string-usage", usage="12"), "invalid_field"),
        (_record("object-usage", usage={"value": 1}), "invalid_field"),
        (_record("bool-usage", usage=True), "invalid_field"),
        (_record(42), "invalid_field"),  # id not a string
        (_record("number-provider", provider=7), "invalid_field"),
        (_record("number-resource", resource_id=1234), "invalid_field"),
        (_record("fraction", usage=2.5), "invalid_value"),
        (_record("exponent", usage=1e3), "invalid_value"),  # a long is never written as a double
        (_record("beyond-int64", usage=2**63), "invalid_value"),
        (_record("negative", usage=-1), "invalid_value"),
        (_record("int64-max", usage=2**63 - 1, event_type="internal_model_egress_bytes"), None),
    ]
    land(landing_dir, "cases.ndjson", [json.dumps(record) for record, _ in cases], HOUR_DIR)
    run_hour(clickhouse, landing, catalog_resource)

    [(first,)] = query(clickhouse, "SELECT line_no FROM events WHERE id = 'ok-1'")  # cases[0]
    got = {line_no - first: reason for line_no, reason, _ in _verdicts(clickhouse)}
    assert {i: got.get(i) for i in range(len(cases))} == {i: reason for i, (_, reason) in enumerate(cases)}
    assert _usage(clickhouse) == {
        ("initech", "ba-initech", "external_model_total_tokens", OPENAI_EAST): Decimal(2),
        ("initech", "ba-initech", "internal_model_egress_bytes", OPENAI_EAST): Decimal(2**63 - 1),
    }


def test_template_with_a_missing_field_never_yields_another_type(clickhouse, landing, landing_dir, tmp_path):
    """Without a fallback, a record lacking the template's field gets no type: it is not metered as
    `internal__total_tokens`, nor as the `*` type."""
    document = default_document()
    [source] = [s for s in document["sources"] if s["name"] == "data-api"]
    source["event_types"]["internal_model_total_tokens"] = "data-api/internal_{model_type}_total_tokens"
    catalog = write_catalog(tmp_path, document)
    _attribution(clickhouse)
    lines = [
        _record("with-type", event_type="internal_model_total_tokens", model_type="embedding"),
        _record("without-type", event_type="internal_model_total_tokens"),
        _record("blank-type", event_type="internal_model_total_tokens", model_type="  "),
        _record("fallback-kept", event_type="internal_model_egress_bytes"),  # the default list still falls back
    ]
    land(landing_dir, "templates.ndjson", [json.dumps(record) for record in lines], HOUR_DIR)
    run_hour(clickhouse, landing, catalog)

    assert [(reason, detail) for _, reason, detail in _verdicts(clickhouse)] == [("missing_field", "no event type could be read")] * 2
    assert query(clickhouse, "SELECT id, type FROM events WHERE source = 'data-api' ORDER BY id") == [
        ("fallback-kept", "data-api/internal_model_egress_bytes"),
        ("with-type", "data-api/internal_embedding_total_tokens"),
    ]


def _source(event_types) -> dict:
    fields = {
        "id": "$.id",
        "timestamp": "$.timestamp",
        "event_type": "$.event_type",
        "usage": "$.usage",
        "resource_id": "$.resource_id",
        "model_type": "$.model_type",
    }
    return {"name": "d", "format": "data_api_billing_event", "attribution_kind": "resource", "fields": fields, "event_types": event_types}


def test_event_type_templates_parse_as_lists():
    source = parse_source(_source({"*": "data-api/{type}", "internal_model_total_tokens": ["x/{model_type}_{type}", "x/{type}"]}))
    assert source.event_types == {
        "*": (("data-api/", "type", ""),),
        "internal_model_total_tokens": (("x/", "model_type", "_", "type", ""), ("x/", "type", "")),
    }


@pytest.mark.parametrize(
    ("templates", "error"),
    [
        ([], "needs an event type template"),
        ([None], "must be a non-empty string"),
        ("", "must be a non-empty string"),
        (["x/{type}", 3], "must be a non-empty string"),
        ({"a": "b"}, "must be a non-empty string"),
        (["x/{model_type}", "x/{colour}"], r"unknown fields \['colour'\]"),
        (["x/{type", "x/{type}"], "stray brace"),
        (["x/{type}", "x/{model_type}"], "always applies"),  # the second could never be tried
    ],
)
def test_event_type_template_errors(templates, error):
    with pytest.raises(CatalogError, match=error):
        parse_source(_source({"internal_model_total_tokens": templates}))
