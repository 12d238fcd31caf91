"""Envoy Gateway access logs: both generations, TCP, unset bytes, NR lines, a route moved at 10:30.

HTTP or TCP from every signal of the line (formats/envoy.py); fixtures cited in fixtures/envoy/SOURCES.md.
"""

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from metering_pipeline.ingest.assets import ingest
from metering_pipeline_tests.fixtures.landing import (
    SWITCH,
    fill_attribution_table,
    land_fixture,
    quarantine_reasons,
    usage_by_account,
)
from metering_pipeline_tests.support.events import land, materialization_metadata, query, run_hour

SINCE = datetime(2026, 1, 1)
FIXTURES_ENVOY = Path(__file__).parent / "fixtures" / "envoy"
DROP = object()
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
        (*acme1, "requests"): 1,
        (*acme2, "requests"): 1,
        (*globex, "requests"): 4,
        (*acme1, "egress-bytes"): 1500,
        (*acme2, "egress-bytes"): 50,
        (*globex, "egress-bytes"): 0 + 0 + 0 + 10,
        (*acme1, "ingress-bytes"): 0,
        (*acme2, "ingress-bytes"): 300,
        (*globex, "ingress-bytes"): 20 + 0 + 0 + 5,
        # Two TCP connections on tcproute team-a/db (typed and string generation); the third is a resent line.
        (*acme1, "connection-seconds"): Decimal("61.234") + Decimal("1.5"),
        (*acme1, "tcp-egress-bytes"): 1048576 + 200,
        (*acme1, "tcp-ingress-bytes"): 4096 + 100,
    }
    got = {(t, a, m.removeprefix(GATEWAY)): v for (t, a, m, _), v in usage_by_account(clickhouse, GATEWAY).items()}
    assert got == {k: Decimal(v) for k, v in expected.items()}

    assert quarantine_reasons(clickhouse, "envoy-gateway") == {
        "unattributed": 3,  # two NR lines (string and typed) and a route with no attribution entry
        "malformed_json": 1,
        "invalid_value": 1,
        "wrong_partition": 1,
        "missing_field": 1,
    }
    meta = materialization_metadata(result, "accepted_events")
    assert (meta["lines_read"], meta["accepted"], meta["duplicates"], meta["quarantined"]) == (17, 8, 2, 7)
    details = [d for (d,) in query(clickhouse, "SELECT detail FROM quarantine WHERE reason = 'unattributed' ORDER BY line_no")]
    assert details == [
        "no route: route_name and upstream_cluster are unset (NR, route_not_found)",
        "no route: route_name and upstream_cluster are unset (NR, route_not_found)",
        # Both set, a key read, no entry: the detail names the kind and key that was looked up.
        "no attribution entry covers kind httproute key team-c/orphan at 2026-11-22T10:14:00.000000Z",
    ]
    assert {c.check_name: c.passed for c in result.get_asset_check_evaluations()}["lines_reconcile"]


def test_tcp_id_is_the_sha256_of_the_line(clickhouse, landing, landing_dir, catalog_resource):
    [first, _] = land_fixture(landing_dir, "envoy-gateway", "envoy")
    fill_attribution_table(clickhouse, ROUTES)
    run_hour(clickhouse, landing, catalog_resource, assets=[ingest])
    tcp_lines = [line for line in first.read_bytes().splitlines() if b'"tcproute/' in line]
    expected = sorted("line-sha256:" + hashlib.sha256(line).hexdigest() for line in tcp_lines)
    assert [i for (i,) in query(clickhouse, "SELECT id FROM events WHERE startsWith(id, 'line-') ORDER BY id")] == expected


def _typed_tcp(**changes) -> str:
    """fixtures/envoy's typed TCP line (Envoy Gateway's default format), with `changes`; None drops a key."""
    record = json.loads((FIXTURES_ENVOY / "gateway-a.ndjson").read_text().splitlines()[5])
    assert record["upstream_cluster"] == "tcproute/team-a/db/rule/0" and record["protocol"] is None
    record.update(changes)
    return json.dumps({k: v for k, v in record.items() if v is not DROP})


def test_http_or_tcp_from_every_signal(clickhouse, landing, landing_dir, catalog_resource):
    """response_code 0 decides nothing; a missing `protocol` key decides nothing; signals that disagree
    or are all absent quarantine the line rather than bill it as the wrong kind."""
    fill_attribution_table(clickhouse, ROUTES)
    lines = {
        # TCP: protocol written null, tcproute, no method or id (the fixture line itself).
        "tcp": _typed_tcp(start_time="2026-11-22T10:01:00.000Z"),
        # TCP without a protocol key at all: the tcproute kind says so.
        "tcp-no-protocol-key": _typed_tcp(start_time="2026-11-22T10:02:00.000Z", protocol=DROP),
        # HTTP abandoned by the client (status 0) in a format without `protocol`: method and id say HTTP.
        "http-abandoned": _typed_tcp(
            start_time="2026-11-22T10:03:00.000Z",
            protocol=DROP,
            method="POST",
            **{"x-request-id": "abandoned-1", "upstream_cluster": "httproute/team-b/api/rule/0"},
        ),
        # Disagreeing: a tcproute line with a method and a request id -> invalid_field, neither billed.
        "conflict": _typed_tcp(start_time="2026-11-22T10:04:00.000Z", method="GET", **{"x-request-id": "odd-1"}),
        # Nothing says which: no protocol key, no method, id, status or route kind (a merged backend cluster).
        "unknown": _typed_tcp(start_time="2026-11-22T10:05:00.000Z", protocol=DROP, upstream_cluster="service/team-a/db/5432"),
    }
    land(landing_dir, "signals.ndjson", list(lines.values()), hour_dir="envoy-gateway/2026/11/22/10")
    run_hour(clickhouse, landing, catalog_resource)

    types = dict(query(clickhouse, "SELECT toString(time), type FROM events"))
    assert types == {
        "2026-11-22 10:01:00.000000": GATEWAY + "tcp-connection",
        "2026-11-22 10:02:00.000000": GATEWAY + "tcp-connection",
        "2026-11-22 10:03:00.000000": GATEWAY + "http-request",
    }
    verdicts = query(clickhouse, "SELECT line_no, reason, detail FROM quarantine ORDER BY line_no")
    assert [(n, r) for n, r, _ in verdicts] == [(4, "invalid_field"), (5, "missing_field")]
    assert verdicts[0][2].startswith("HTTP and TCP signals disagree") and verdicts[1][2].startswith("neither HTTP nor TCP")
