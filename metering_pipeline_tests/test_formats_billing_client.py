"""billing-client Events: one event per amount type, an instance moved at 10:30, offsets and nanoseconds."""

from decimal import Decimal

from metering_pipeline.ingest.assets import ingest
from metering_pipeline_tests.fixtures.landing import (
    FIXTURES, SWITCH, default_document, land_fixture, quarantine_reasons, usage_by_account, write_catalog,
)
from metering_pipeline_tests.support.events import materialization_metadata, query, run_hour

INSTANCES = [
    {"kind": "instance", "key": "1001", "tenant_id": "acme", "billing_account_id": "ba-acme-1", "valid_to": SWITCH},
    {"kind": "instance", "key": "1001", "tenant_id": "acme", "billing_account_id": "ba-acme-2", "valid_from": SWITCH},
    {"kind": "instance", "key": "2002", "tenant_id": "globex", "billing_account_id": "ba-globex"},
]


def yaml_attributed_catalog(tmp_path, edit=None, name="catalog.yaml"):
    """The default catalog with attribution listed in YAML (the small-setup path) instead of a table.

    CatalogResource caches catalogs by path, so an edited catalog needs a file name of its own.
    """
    document = default_document()
    document["attribution"] = {"entries": INSTANCES}
    if edit:
        edit(document)
    return write_catalog(tmp_path, document, name)


def test_billing_client_fixture_golden_usage(clickhouse, landing, landing_dir, tmp_path):
    land_fixture(landing_dir, "billing-client", "billing_client")
    result = run_hour(clickhouse, landing, yaml_attributed_catalog(tmp_path))

    acme1, acme2, globex = ("acme", "ba-acme-1"), ("acme", "ba-acme-2"), ("globex", "ba-globex")
    expected = {
        # k-1 occurred at 12:29:59.999999999+02:00 = 10:29:59.999999 UTC (truncated): still ba-acme-1.
        (*acme1, "container-seconds"): 3600, (*acme1, "node-seconds"): 120,
        # k-2 at 10:30:00Z: ba-acme-2; its resend adds only the new node-seconds amount (container-seconds is a duplicate).
        (*acme2, "container-seconds"): 60, (*acme2, "weavenet-seconds"): 5, (*acme2, "samples"): 7, (*acme2, "node-seconds"): 9,
        # k-3 (older client, `timestamp` at 05:15:00.5-05:00) and k-11 at 10:59:59.999999999Z, which stays in this hour.
        (*globex, "samples"): 100 + 1,
    }
    got = {(t, a, m.removeprefix("billing-client/")): v for (t, a, m, _), v in usage_by_account(clickhouse, "billing-client/").items()}
    assert got == {k: Decimal(v) for k, v in expected.items()}

    assert quarantine_reasons(clickhouse, "billing-client") == {
        "invalid_field": 1,  # amounts {}
        "invalid_value": 2,  # an amount of 1.5, a negative amount
        "unattributed": 1,  # instance 9999 has no entry
        "invalid_time": 1, "malformed_json": 1, "unknown_event_type": 1, "missing_field": 1,
    }
    meta = materialization_metadata(result, "accepted_events")
    # 14 lines: 5 accepted (k-1, k-2, k-3, k-11 and k-2's resend, which has one new amount), 1 duplicate (k-1 again).
    assert (meta["lines_read"], meta["accepted"], meta["duplicates"], meta["quarantined"]) == (14, 5, 1, 8)
    assert query(clickhouse, "SELECT count() FROM events WHERE source = 'billing-client'") == [(2 + 3 + 1 + 1 + 1,)]
    # A line's bytes sit on its first event only, so bytes_ingested sums per line, not per amount.
    first_line = (FIXTURES / "billing_client" / "client-a.ndjson").read_bytes().splitlines()[0]
    k1_bytes = query(clickhouse, "SELECT sum(bytes) FROM events WHERE startsWith(id, 'k-1/')")
    assert k1_bytes == [(len(first_line),)]
    assert {c.check_name: c.passed for c in result.get_asset_check_evaluations()}["lines_reconcile"]


def test_renamed_field_is_a_catalog_change(clickhouse, landing, landing_dir, tmp_path):
    """A client that renames internal_instance_id and occurred_at: quarantined until the catalog maps the new names."""
    line = ('{"unique_key":"r-1","instance_ref":"2002","event_time":"2026-11-22T10:10:00Z",'
            '"amounts":{"samples":4},"metadata":null}')
    folder = landing_dir / "billing-client" / "2026/11/22/10"
    folder.mkdir(parents=True)
    (folder / "renamed.ndjson").write_text(line + "\n")
    run_hour(clickhouse, landing, yaml_attributed_catalog(tmp_path), assets=[ingest])
    assert quarantine_reasons(clickhouse, "billing-client") == {"missing_field": 1}

    def rename(document):
        fields = document["sources"][2]["fields"]
        fields["instance_id"] = "$.instance_ref"
        fields["occurred_at"] = ["$.occurred_at", "$.timestamp", "$.event_time"]

    run_hour(clickhouse, landing, yaml_attributed_catalog(tmp_path, rename, "renamed.yaml"))
    assert quarantine_reasons(clickhouse, "billing-client") == {}
    assert usage_by_account(clickhouse, "billing-client/") == {("globex", "ba-globex", "billing-client/samples", ()): Decimal(4)}
