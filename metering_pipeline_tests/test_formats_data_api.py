"""Data API BillingEvents: both event_type generations, 0/3/6/9 fraction digits, dimensions, three lines a call."""

from datetime import datetime
from decimal import Decimal

from metering_pipeline_tests.fixtures.landing import fill_attribution_table, land_fixture, quarantine_reasons, usage_by_account
from metering_pipeline_tests.support.events import materialization_metadata, run_hour

SINCE = datetime(2026, 1, 1)
OPENAI = (("model", "text-embedding-3-small"), ("provider", "openai"), ("region", "us-east-2"))
NVIDIA = (("model", "nv-rerank-qa-mistral-4b:1"), ("provider", "nvidia"), ("region", "eu-west-1"))


def test_data_api_fixture_golden_usage(clickhouse, landing, landing_dir, catalog_resource):
    land_fixture(landing_dir, "data-api", "data_api")
    fill_attribution_table(clickhouse, [("resource", "db-1", "acme", "ba-acme-1", SINCE, None),
                                        ("resource", "db-2", "globex", "ba-globex", SINCE, None)])
    result = run_hour(clickhouse, landing, catalog_resource)

    acme, globex = ("acme", "ba-acme-1"), ("globex", "ba-globex")
    expected = {
        # One call at 10:01:02Z (today's names) and one at 10:40:00.123456Z (external_model_* with model_type embedding).
        (*acme, "external_embedding_total_tokens", OPENAI): 1200 + 800,
        (*acme, "external_embedding_egress_bytes", OPENAI): 4096 + 1024,
        (*acme, "external_embedding_ingress_bytes", OPENAI): 512 + 256,
        # One call at 10:20:00.123Z, and internal_model_total_tokens (model_type reranking) at 10:59:59.999999999Z.
        (*globex, "internal_reranking_total_tokens", NVIDIA): 300 + 50,
        (*globex, "internal_reranking_egress_bytes", NVIDIA): 100,
        (*globex, "internal_reranking_ingress_bytes", NVIDIA): 200,
    }
    got = {(t, a, m.removeprefix("data-api/"), d): v for (t, a, m, d), v in usage_by_account(clickhouse, "data-api/").items()}
    assert got == {k: Decimal(v) for k, v in expected.items()}

    assert quarantine_reasons(clickhouse, "data-api") == {
        "invalid_time": 2,  # two fraction digits; +00:00 instead of Z
        "invalid_value": 1,  # usage "12.5"
        "missing_field": 1,  # no resource_id
        "unknown_event_type": 1,  # external_model_* without model_type
        "malformed_json": 1,
        "unattributed": 1,  # db-404
    }
    meta = materialization_metadata(result, "accepted_events")
    assert (meta["lines_read"], meta["accepted"], meta["duplicates"], meta["quarantined"]) == (18, 10, 1, 7)
