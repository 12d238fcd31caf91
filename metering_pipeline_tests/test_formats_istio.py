"""Istio's default JSON access log through the `istio-ingress` source: its own attribution key pattern.

Fixture: fixtures/istio (SOURCES.md cites each line). Istio names clusters
`outbound|<port>|<subset>|<service FQDN>`; the source's `attribution_key` reads the FQDN from
`upstream_cluster` with kind `service`, although `route_name` is set (`default`).
"""

from decimal import Decimal

from metering_pipeline_tests.fixtures.landing import fill_attribution_table, land_fixture, quarantine_reasons, usage_by_account
from metering_pipeline_tests.support.events import query, run_hour
from metering_pipeline_tests.test_formats_envoy import GATEWAY, SINCE

SERVICES = [
    ("service", "httpbin.default.svc.cluster.local", "hooli", "ba-hooli", SINCE, None),
    ("service", "airflow-postgres.innovation-apps.svc.cluster.local", "hooli", "ba-hooli-db", SINCE, None),
]


def test_istio_source_attributes_by_its_own_pattern(clickhouse, landing, landing_dir, catalog_resource):
    land_fixture(landing_dir, "istio-ingress", "istio")
    fill_attribution_table(clickhouse, SERVICES)
    run_hour(clickhouse, landing, catalog_resource)

    got = {(a, m.removeprefix(GATEWAY)): v for (_, a, m, _), v in usage_by_account(clickhouse, GATEWAY).items()}
    assert got == {
        ("ba-hooli", "requests"): 1,
        ("ba-hooli", "egress-bytes"): 605,
        ("ba-hooli", "ingress-bytes"): 0,
        # A TCP line (protocol written null, no method or id): connection seconds, whole-connection bytes.
        ("ba-hooli-db", "connection-seconds"): Decimal("120.5"),
        ("ba-hooli-db", "tcp-egress-bytes"): 8192,
        ("ba-hooli-db", "tcp-ingress-bytes"): 2048,
    }
    assert quarantine_reasons(clickhouse, "istio-ingress") == {"unattributed": 2}
    details = dict(query(clickhouse, "SELECT line_no, detail FROM quarantine WHERE reason = 'unattributed'"))
    # The inbound line names no service: the detail says what the key was sought in.
    assert details[2] == 'no attribution key: the attribution_key pattern matches none of upstream_cluster "inbound|9080||"'
    # The subset cluster's key was read (the subset is not part of it); no entry covers it.
    assert details[4] == (
        "no attribution entry covers kind service key istio-egressgateway.istio-system.svc.cluster.local at 2026-11-22T10:03:44.187000Z"
    )
