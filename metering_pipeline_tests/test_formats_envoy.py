"""Envoy Gateway access logs: both generations, TCP, unset bytes, NR lines, a route moved at 10:30."""

import hashlib
from datetime import datetime
from decimal import Decimal

from metering_pipeline.ingest.assets import ingest
from metering_pipeline_tests.fixtures.landing import (
    SWITCH, fill_attribution_table, land_fixture, quarantine_reasons, usage_by_account,
)
from metering_pipeline_tests.support.events import materialization_metadata, query, run_hour

SINCE = datetime(2026, 1, 1)
GATEWAY = "networking.datumapis.com/gateway/"
ROUTES = [
    ("httproute", "team-a/web", "acme", "ba-acme-1", SINCE, SWITCH),
    ("httproute", "team-a/web", "acme", "ba-acme-2", SWITCH, None),
    ("tcproute", "team-a/db", "acme", "ba-acme-1", SINCE, None),
    ("httproute", "team-b/api", "globex", "ba-globex", SINCE, None),
]


def test_envoy_fixture_golden_usage(clickhouse, landing, landing_dir, catalog_resource):
    """Default catalog, attribution from the ClickHouse table; expected values worked out by hand below."""
    land_fixture(landing_dir, "envoy-gateway", "envoy")
    fill_attribution_table(clickhouse, ROUTES)
    result = run_hour(clickhouse, landing, catalog_resource)

    acme1, acme2, globex = ("acme", "ba-acme-1"), ("acme", "ba-acme-2"), ("globex", "ba-globex")
    expected = {
        # req-1 at 10:29:59.999 bills ba-acme-1, req-2 at 10:30:00.000 ba-acme-2 (route moved at 10:30);
        # globex: req-3 (response_code 0), req-4 ("-" bytes), req-5 (null / missing bytes), req-7 (upstream_cluster only).
        (*acme1, "requests"): 1, (*acme2, "requests"): 1, (*globex, "requests"): 4,
        (*acme1, "egress-bytes"): 1500, (*acme2, "egress-bytes"): 50, (*globex, "egress-bytes"): 0 + 0 + 0 + 10,
        (*acme1, "ingress-bytes"): 0, (*acme2, "ingress-bytes"): 300, (*globex, "ingress-bytes"): 20 + 0 + 0 + 5,
        # Two TCP connections on tcproute team-a/db (typed and string generation); the third is a resent line.
        (*acme1, "connection-seconds"): Decimal("61.234") + Decimal("1.5"),
        (*acme1, "tcp-egress-bytes"): 1048576 + 200, (*acme1, "tcp-ingress-bytes"): 4096 + 100,
    }
    got = {(t, a, m.removeprefix(GATEWAY)): v for (t, a, m, _), v in usage_by_account(clickhouse, GATEWAY).items()}
    assert got == {k: Decimal(v) for k, v in expected.items()}

    assert quarantine_reasons(clickhouse, "envoy-gateway") == {
        "unattributed": 3,  # two NR lines (string and typed) and a route with no attribution entry
        "malformed_json": 1, "invalid_value": 1, "wrong_partition": 1, "missing_field": 1,
    }
    meta = materialization_metadata(result, "accepted_events")
    assert (meta["lines_read"], meta["accepted"], meta["duplicates"], meta["quarantined"]) == (17, 8, 2, 7)
    details = [d for (d,) in query(clickhouse, "SELECT detail FROM quarantine WHERE reason = 'unattributed' ORDER BY line_no")]
    assert details[0].startswith("no route") and details[1].startswith("no route") and "attribution entry" in details[2]
    assert {c.check_name: c.passed for c in result.get_asset_check_evaluations()}["lines_reconcile"]


def test_tcp_id_is_the_sha256_of_the_line(clickhouse, landing, landing_dir, catalog_resource):
    [first, _] = land_fixture(landing_dir, "envoy-gateway", "envoy")
    fill_attribution_table(clickhouse, ROUTES)
    run_hour(clickhouse, landing, catalog_resource, assets=[ingest])
    tcp_lines = [line for line in first.read_bytes().splitlines() if b'"tcproute/' in line]
    expected = sorted("line-sha256:" + hashlib.sha256(line).hexdigest() for line in tcp_lines)
    assert [i for (i,) in query(clickhouse, "SELECT id FROM events WHERE startsWith(id, 'line-') ORDER BY id")] == expected
