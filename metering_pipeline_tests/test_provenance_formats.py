"""Provenance for the attributed formats: a tenant's quarantined lines found by the tenant their events
resolved to (not by the tenant id's text, which an Envoy or billing-client line never holds), and
evidence bundles whose verify script reads every value again from the raw Envoy and billing-client
lines (fluentd's `time\\ttag\\tjson` included), failing on one forged value.

Real chDB, the real ingest/usage/export assets, the fixtures of fixtures/envoy and
fixtures/billing_client (SOURCES.md) plus a few lines written here.
"""

import json
from datetime import datetime

import pytest

from metering_pipeline_tests.fixtures.landing import (
    FIXTURES,
    HOUR_PATH,
    SWITCH,
    default_document,
    fill_attribution_table,
    land_fixture,
    write_catalog,
)
from metering_pipeline_tests.support.events import query
from metering_pipeline_tests.support.provenance import bundle_member, cli, explain_json, forge_line, run_all

HOUR = "2026-11-22T10:00"
GATEWAY = "networking.datumapis.com/gateway/"
SINCE = datetime(2026, 1, 1)
ROUTES = [
    ("httproute", "team-a/web", "acme", "ba-acme-1", SINCE, SWITCH),
    ("httproute", "team-a/web", "acme", "ba-acme-2", SWITCH, None),
    ("tcproute", "team-a/db", "acme", "ba-acme-1", SINCE, None),
    ("httproute", "team-b/api", "globex", "ba-globex", SINCE, None),
]


def envoy(request_id: str, route: str, start: str, **members) -> str:
    record = {
        "start_time": start,
        "protocol": "HTTP/1.1",
        "method": "GET",
        "x-request-id": request_id,
        "route_name": f"httproute/{route}/rule/0/match/0/web.example.com",
        "upstream_cluster": f"httproute/{route}/rule/0",
        "response_code": 200,
        "bytes_sent": 1,
        "bytes_received": 0,
        "duration": 3,
        **members,
    }
    return json.dumps(record)


EXTRA = [
    # acme's (team-a/web, after the switch: ba-acme-2), refused for its value; the line never names acme
    envoy("req-bad", "team-a/web", "2026-11-22T10:40:00.000Z", bytes_sent="12x"),
    # globex's line, refused for its value; a header happens to be the text "acme": not acme's line
    envoy("req-globex", "team-b/api", "2026-11-22T10:41:00.000Z", bytes_sent=-1, **{"user-agent": "acme"}),
    # acme's, counted: 70 bytes written the first generation's way (a string)
    envoy("req-x2", "team-a/web", "2026-11-22T10:42:00.000Z", bytes_sent="70"),
    # not JSON, so no tenant can be resolved; its text names "acme": listed as a mention only
    '{"x-request-id": "acme", "start_time": "2026-11-22T10:43:00.000Z"',
]


@pytest.fixture
def envoy_hour(clickhouse, landing, landing_dir, tmp_path, monkeypatch):
    land_fixture(landing_dir, "envoy-gateway", "envoy")
    (landing_dir / "envoy-gateway" / HOUR_PATH / "c-extra.ndjson").write_text("\n".join(EXTRA) + "\n", encoding="utf-8")
    fill_attribution_table(clickhouse, ROUTES)
    run_all(clickhouse, landing, tmp_path)
    monkeypatch.setenv("METERING_CLICKHOUSE_URL", clickhouse.url)
    monkeypatch.setenv("METERING_DATABASE", clickhouse.database)
    monkeypatch.setenv("METERING_LANDING_URL", landing.url)
    monkeypatch.delenv("METERING_CATALOG", raising=False)


@pytest.mark.slow
def test_quarantined_lines_of_an_attributed_tenant_are_found_by_the_tenant_they_resolved_to(envoy_hour, clickhouse, capsys):
    extra = f"envoy-gateway/{HOUR_PATH}/c-extra.ndjson"
    rows = query(clickhouse, "SELECT line_no, reason, tenant_ids FROM quarantine WHERE source_file = {f:String} ORDER BY line_no", f=extra)
    assert rows == [(1, "invalid_value", ["acme"]), (2, "invalid_value", ["globex"]), (4, "malformed_json", [])]
    unattributed = query(clickhouse, "SELECT DISTINCT tenant_ids FROM quarantine WHERE reason = 'unattributed'")
    assert unattributed == [([],)]  # the NR lines and the orphan route resolved to nobody

    args = ["--tenant", "acme", "--meter", GATEWAY + "egress-bytes", "--hour", HOUR, "--billing-account", "ba-acme-2"]
    document = explain_json(capsys, *args)
    assert [(q["file"], q["line"], q["reason"], q["match"]) for q in document["quarantined"]] == [
        (extra, 1, "invalid_value", "tenant"),
        (extra, 4, "malformed_json", "mentions"),
    ]
    globex = explain_json(capsys, "--tenant", "globex", "--meter", GATEWAY + "requests", "--hour", HOUR)
    assert (extra, 2, "tenant") in {(q["file"], q["line"], q["match"]) for q in globex["quarantined"]}
    assert (extra, 1) not in {(q["file"], q["line"]) for q in globex["quarantined"]}
    code, out, _ = cli(capsys, "explain", *args)
    assert code == 0 and "quarantined lines of the tenant (2)" in out and "mentions" in out


@pytest.mark.slow
def test_envoy_bundles_recompute_from_the_raw_lines_and_a_forged_value_fails(envoy_hour, tmp_path, capsys):
    bundle = tmp_path / "egress.tar.gz"
    args = ["--tenant", "acme", "--meter", GATEWAY + "egress-bytes", "--hour", HOUR, "--billing-account", "ba-acme-2"]
    document = explain_json(capsys, *args, "--bundle", str(bundle))
    assert sorted((e["id"], e["value"]) for e in document["events"]) == [("req-2", "50"), ("req-x2", "70")]
    assert document["quantity"]["recomputed_from_events"] == "120" and document["quantity"]["consistent"]
    located, _ = (e["locate"] for e in bundle_member(bundle, "events.ndjson"))
    assert located["value"] == {"paths": [["bytes_sent"]], "unset": ["-"], "absent": "0"}  # the catalog's path for the role
    code, out, _ = cli(capsys, "verify-bundle", str(bundle))
    assert code == 0 and f"{GATEWAY}egress-bytes = 120" in out and "NOTE" not in out, out

    forged = tmp_path / "forged.tar.gz"
    forge_line(bundle, forged, '"req-x2"', '"bytes_sent": "70"', '"bytes_sent": "71"')
    code, out, _ = cli(capsys, "verify-bundle", str(forged))
    assert code == 1 and "SHA-256" not in out and "the raw line gives 71, the pipeline counted 70" in out, out

    # TCP seconds: duration / 1000 read from the raw lines (one typed, one of the "-" generation), ids their SHA-256.
    seconds = tmp_path / "seconds.tar.gz"
    args = ["--tenant", "acme", "--meter", GATEWAY + "connection-seconds", "--hour", HOUR, "--bundle", str(seconds)]
    document = explain_json(capsys, *args)
    assert document["quantity"]["recomputed_from_events"] == "62.734"
    code, out, _ = cli(capsys, "verify-bundle", str(seconds))
    assert code == 0 and "connection-seconds = 62.734" in out, out
    forge_line(seconds, forged, '"duration":"1500"', '"duration":"1500"', '"duration":"2500"')
    code, out, _ = cli(capsys, "verify-bundle", str(forged))
    assert code == 1 and "holds 0 records with id 'line-sha256:" in out, out  # the id is the line's hash


INSTANCES = [
    {"kind": "instance", "key": "1001", "tenant_id": "acme", "billing_account_id": "ba-acme-1", "valid_to": SWITCH},
    {"kind": "instance", "key": "1001", "tenant_id": "acme", "billing_account_id": "ba-acme-2", "valid_from": SWITCH},
    {"kind": "instance", "key": "2002", "tenant_id": "globex", "billing_account_id": "ba-globex"},
]


@pytest.mark.slow
def test_billing_client_bundle_reads_events_and_fluentd_records_and_a_forged_amount_fails(
    clickhouse, landing, landing_dir, tmp_path, monkeypatch, capsys
):
    document = default_document()
    document["attribution"] = {"entries": INSTANCES}
    catalog = write_catalog(tmp_path, document)
    folder = landing_dir / "billing-client" / HOUR_PATH
    folder.mkdir(parents=True)
    for name in ("client-a.ndjson", "fluentd-out-file.ndjson"):
        (folder / name).write_bytes((FIXTURES / "billing_client" / name).read_bytes())
    run_all(clickhouse, landing, tmp_path, catalog)
    monkeypatch.setenv("METERING_CLICKHOUSE_URL", clickhouse.url)
    monkeypatch.setenv("METERING_DATABASE", clickhouse.database)
    monkeypatch.setenv("METERING_LANDING_URL", landing.url)
    monkeypatch.setenv("METERING_CATALOG", catalog.path)

    bundle = tmp_path / "seconds.tar.gz"
    args = ["--tenant", "acme", "--meter", "billing-client/container-seconds", "--hour", HOUR, "--billing-account", "ba-acme-1"]
    explained = explain_json(capsys, *args, "--bundle", str(bundle))
    # k-1 is an Event (amounts), r-1 a record fluentd's out_file wrote as time, tag, JSON
    assert [(e["id"], e["file"].rsplit("/", 1)[1], e["value"]) for e in explained["events"]] == [
        ("k-1:container-seconds", "client-a.ndjson", "3600"),
        ("r-1:container-seconds", "fluentd-out-file.ndjson", "3600"),
    ]
    located = [e["locate"]["value"]["paths"] for e in bundle_member(bundle, "events.ndjson")]
    assert located[0] == [["amounts", "container-seconds"], ["amount_value"]]
    code, out, _ = cli(capsys, "verify-bundle", str(bundle))
    assert code == 0 and "billing-client/container-seconds = 7200" in out and "NOTE" not in out, out

    forged = tmp_path / "forged.tar.gz"
    forge_line(bundle, forged, "\tbilling\t", '"amount_value":3600', '"amount_value":3601')
    code, out, _ = cli(capsys, "verify-bundle", str(forged))
    assert code == 1 and "the raw line gives 3601, the pipeline counted 3600" in out, out
    forge_line(bundle, forged, '"k-1"', '"container-seconds":3600', '"container-seconds":36')
    code, out, _ = cli(capsys, "verify-bundle", str(forged))
    assert code == 1 and "the raw line gives 36, the pipeline counted 3600" in out, out


HOSTILE_TENANT = "a'b\"c ../../x ü 💥 \\ ; DROP TABLE events"
HOSTILE_ACCOUNT = "../ba'\"é"
HOSTILE_ID = "../../etc/passwd'\"; --"


@pytest.mark.slow
def test_hostile_attributed_tenant_through_quarantine_explain_and_the_bundle(
    clickhouse, landing, landing_dir, tmp_path, monkeypatch, capsys
):
    """A tenant and billing account that only the attribution table names (quotes, unicode, `../`),
    hostile request ids, and a refused line of theirs: bound everywhere, found by tenant, verified."""
    folder = landing_dir / "envoy-gateway" / HOUR_PATH
    folder.mkdir(parents=True)
    lines = [
        envoy(HOSTILE_ID, "team-h/app", "2026-11-22T10:05:00.000Z", bytes_sent=5),
        envoy("plain", "team-h/app", "2026-11-22T10:06:00.000Z", bytes_sent="-"),
        envoy(HOSTILE_ID, "team-h/app", "2026-11-22T10:07:00.000Z", bytes_sent=5),  # a retry: dropped
        envoy("bad", "team-h/app", "2026-11-22T10:08:00.000Z", bytes_sent=1.5),  # refused, attributed
    ]
    (folder / "a.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    fill_attribution_table(clickhouse, [("httproute", "team-h/app", HOSTILE_TENANT, HOSTILE_ACCOUNT, SINCE, None)])
    run_all(clickhouse, landing, tmp_path)
    monkeypatch.setenv("METERING_CLICKHOUSE_URL", clickhouse.url)
    monkeypatch.setenv("METERING_DATABASE", clickhouse.database)
    monkeypatch.setenv("METERING_LANDING_URL", landing.url)
    monkeypatch.delenv("METERING_CATALOG", raising=False)

    bundle = tmp_path / "hostile.tar.gz"
    args = ["--tenant", HOSTILE_TENANT, "--meter", GATEWAY + "egress-bytes", "--hour", HOUR, "--billing-account", HOSTILE_ACCOUNT]
    document = explain_json(capsys, *args, "--bundle", str(bundle))
    assert document["record"]["tenant_id"] == HOSTILE_TENANT and document["record"]["billing_account_id"] == HOSTILE_ACCOUNT
    assert [(e["id"], e["value"]) for e in document["events"]] == [(HOSTILE_ID, "5"), ("plain", "0")]
    assert [(d["id"], d["line"], d["kept_line"]) for d in document["duplicates"]] == [(HOSTILE_ID, 3, 1)]
    assert [(q["line"], q["reason"], q["match"]) for q in document["quarantined"]] == [(4, "invalid_value", "tenant")]
    assert document["quantity"]["billed_sum_of_revisions"] == "5" and document["quantity"]["consistent"]
    code, out, _ = cli(capsys, "verify-bundle", str(bundle))
    assert code == 0 and "NOTE" not in out, out
    code, out, _ = cli(capsys, "explain", document["record"]["record_ids"][0])  # by record id, the readable table
    assert code == 0 and HOSTILE_TENANT in out and HOSTILE_ID in out


def data_api(event_id: str, usage, minute: int) -> str:
    properties = {"usage": usage, "region": "us-east-2", "resource_type": "serverless_database", "resource_id": "db-1"}
    properties.update(provider="openai", model="text-embedding-3-small")
    record = {"id": event_id, "timestamp": f"2026-11-22T10:{minute:02d}:17.482Z", "product": "serverless"}
    return json.dumps({**record, "event_type": "external_model_total_tokens", "properties": properties})


@pytest.mark.slow
def test_data_api_bundle_reads_the_nested_usage_and_a_forged_usage_fails(clickhouse, landing, landing_dir, tmp_path, monkeypatch, capsys):
    folder = landing_dir / "data-api" / HOUR_PATH
    folder.mkdir(parents=True)
    (folder / "a.ndjson").write_text("\n".join([data_api("u-1", 9, 5), data_api("u-2", 11, 6)]) + "\n", encoding="utf-8")
    fill_attribution_table(clickhouse, [("resource", "db-1", "acme", "ba-acme-1", SINCE, None)])
    run_all(clickhouse, landing, tmp_path)
    monkeypatch.setenv("METERING_CLICKHOUSE_URL", clickhouse.url)
    monkeypatch.setenv("METERING_DATABASE", clickhouse.database)
    monkeypatch.setenv("METERING_LANDING_URL", landing.url)
    monkeypatch.delenv("METERING_CATALOG", raising=False)
    bundle = tmp_path / "tokens.tar.gz"
    explain_json(capsys, "--tenant", "acme", "--meter", "data-api/external_model_total_tokens", "--hour", HOUR, "--bundle", str(bundle))
    assert [e["locate"]["value"]["paths"] for e in bundle_member(bundle, "events.ndjson")] == [[["properties", "usage"]]] * 2
    code, out, _ = cli(capsys, "verify-bundle", str(bundle))
    assert code == 0 and "data-api/external_model_total_tokens = 20" in out, out
    forged = tmp_path / "forged.tar.gz"
    forge_line(bundle, forged, '"u-2"', '"usage": 11', '"usage": 12')
    code, out, _ = cli(capsys, "verify-bundle", str(forged))
    assert code == 1 and "the raw line gives 12, the pipeline counted 11" in out, out


@pytest.mark.slow
def test_ai_gateway_token_bundle_reads_the_record_own_member(clickhouse, landing, landing_dir, tmp_path, monkeypatch, capsys):
    """A meter on a member the adapter does not derive ($["gen_ai.usage.input_tokens"]) is read from the line itself."""
    land_fixture(landing_dir, "envoy-gateway", "ai_gateway")
    fill_attribution_table(clickhouse, [("httproute", "default/envoy-ai-gateway-basic", "hooli", "ba-hooli", SINCE, None)])
    run_all(clickhouse, landing, tmp_path)
    monkeypatch.setenv("METERING_CLICKHOUSE_URL", clickhouse.url)
    monkeypatch.setenv("METERING_DATABASE", clickhouse.database)
    monkeypatch.setenv("METERING_LANDING_URL", landing.url)
    monkeypatch.delenv("METERING_CATALOG", raising=False)
    bundle = tmp_path / "tokens.tar.gz"
    args = ["--tenant", "hooli", "--meter", GATEWAY + "ai-input-tokens", "--hour", HOUR, "--bundle", str(bundle)]
    explain_json(capsys, *args, "--dimension", "model=some-cool-self-hosted-model")
    [event] = bundle_member(bundle, "events.ndjson")
    assert event["locate"]["value"] == {"paths": [["gen_ai.usage.input_tokens"]], "unset": ["-"]}
    code, out, _ = cli(capsys, "verify-bundle", str(bundle))
    assert code == 0 and "ai-input-tokens = 100" in out, out
    forged = tmp_path / "forged.tar.gz"
    forge_line(bundle, forged, event["id"], '"gen_ai.usage.input_tokens":100', '"gen_ai.usage.input_tokens":99')
    code, out, _ = cli(capsys, "verify-bundle", str(forged))
    assert code == 1 and "the raw line gives 99, the pipeline counted 100" in out, out
