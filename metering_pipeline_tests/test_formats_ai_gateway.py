"""The Envoy AI Gateway's access logs: its documented LLM and MCP lines, token meters that skip lines without tokens.

Fixture: fixtures/ai_gateway (SOURCES.md cites each line). The AI Gateway's formats have no
`protocol` key (and the current ones no `route_name`): HTTP is told by the method, the
x-request-id, the status and the httproute kind of `upstream_cluster`.
"""

from decimal import Decimal

from metering_pipeline_tests.fixtures.landing import fill_attribution_table, land_fixture, quarantine_reasons, usage_by_account
from metering_pipeline_tests.support.events import materialization_metadata, query, run_hour
from metering_pipeline_tests.test_formats_envoy import GATEWAY, SINCE

ROUTES = [
    ("httproute", "default/aigw-run", "initech", "ba-initech", SINCE, None),
    ("httproute", "default/ai-eg-mcp-br-mcp-route-context7", "initech", "ba-initech", SINCE, None),
    ("httproute", "default/envoy-ai-gateway-basic", "hooli", "ba-hooli", SINCE, None),
]


def test_ai_gateway_lines_bill_requests_and_tokens(clickhouse, landing, landing_dir, catalog_resource):
    land_fixture(landing_dir, "envoy-gateway", "ai_gateway")
    fill_attribution_table(clickhouse, ROUTES)
    result = run_hour(clickhouse, landing, catalog_resource)

    got = {(t, m.removeprefix(GATEWAY), d): v for (t, _, m, d), v in usage_by_account(clickhouse, GATEWAY).items()}
    mini, basic = (("model", "gpt-4o-mini"),), (("model", "some-cool-self-hosted-model"),)
    assert got == {
        # The LLM docs line and the MCP line (no protocol key: HTTP, never a TCP connection).
        ("initech", "requests", ()): 2,
        ("initech", "egress-bytes", ()): 432 + 10255,
        ("initech", "ingress-bytes", ()): 105 + 165,
        ("initech", "ai-input-tokens", mini): 15,
        ("initech", "ai-output-tokens", mini): 7,
        ("initech", "ai-total-tokens", mini): 22,
        # basic.yaml's key set: the answered line has tokens (no total_tokens key), the failed one none.
        ("hooli", "requests", ()): 2,
        ("hooli", "egress-bytes", ()): 900 + 91,
        ("hooli", "ingress-bytes", ()): 220 + 180,
        ("hooli", "ai-input-tokens", basic): 100,
        ("hooli", "ai-output-tokens", basic): 40,
    }
    assert all(isinstance(v, Decimal) for v in got.values())
    # The broken line: a token count that is present but not a number is quarantined, skip or not.
    assert quarantine_reasons(clickhouse, "envoy-gateway") == {"invalid_value": 1}
    assert query(clickhouse, "SELECT count() FROM events WHERE type LIKE '%tcp-connection'") == [(0,)]
    meta = materialization_metadata(result, "accepted_events")
    assert (meta["lines_read"], meta["accepted"], meta["quarantined"]) == (5, 4, 1)


def test_data_carries_every_field_of_the_record(clickhouse, landing, landing_dir, catalog_resource):
    """`data` holds the derived members and every other member as written, so any field can be metered."""
    land_fixture(landing_dir, "envoy-gateway", "ai_gateway")
    fill_attribution_table(clickhouse, ROUTES)
    run_hour(clickhouse, landing, catalog_resource)
    [(data,)] = query(clickhouse, "SELECT data FROM events WHERE id = 'cf2c0454-6290-498e-af6c-e32a611b5da1'")
    import json

    record = json.loads(data)
    assert record["mcp.method.name"] == "tools/call" and record["jsonrpc.request.id"] == "3"
    assert record["route"] == "httproute/default/ai-eg-mcp-br-mcp-route-context7" and record["protocol"] is None
    assert record["gen_ai.usage.input_tokens"] is None and record["bytes_sent"] == 10255
