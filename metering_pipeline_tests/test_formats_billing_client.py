"""billing-client usage in both shapes: Events (one event per amount type) and the records the library
really posts to fluentd (Event.toRecords), as fluentd's out_file (time, tag, JSON), json formatter and
out_s3 (gzip) store them; an instance moved at 10:30, offsets and nanoseconds. Fixtures and their
sources: fixtures/billing_client/SOURCES.md."""

import gzip
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from metering_pipeline.ingest.assets import ingest
from metering_pipeline_tests.fixtures.landing import (
    FIXTURES,
    HOUR_PATH,
    SWITCH,
    default_document,
    quarantine_reasons,
    usage_by_account,
    write_catalog,
)
from metering_pipeline_tests.support.events import materialization_metadata, query, run_hour

FOLDER = FIXTURES / "billing_client"

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


def land(landing_dir, *names: str, gzipped: tuple[str, ...] = ()) -> None:
    """Copy fixture files into the hour's billing-client folder; `gzipped` ones as out_s3 stores them.

    out_s3 (store_as gzip, its default) writes each chunk's out_file lines through one
    Zlib::GzipWriter; the landing needs the object key to end in `.ndjson.gz`.
    """
    target = Path(landing_dir) / "billing-client" / HOUR_PATH
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(FOLDER / name, target)
    for name in gzipped:
        (target / f"{name}.gz").write_bytes(gzip.compress((FOLDER / name).read_bytes()))


def counts(result) -> tuple:
    meta = materialization_metadata(result, "accepted_events")
    assert meta["lines_read"] == meta["accepted"] + meta["duplicates"] + meta["quarantined"]
    assert {c.check_name: c.passed for c in result.get_asset_check_evaluations()}["lines_reconcile"]
    return meta["lines_read"], meta["accepted"], meta["duplicates"], meta["quarantined"]


def usage_got(clickhouse) -> dict:
    return {(t, a, m.removeprefix("billing-client/")): v for (t, a, m, _), v in usage_by_account(clickhouse, "billing-client/").items()}


def quarantined(clickhouse) -> dict:
    """{(file, line): (reason, detail)} of the billing-client source."""
    rows = query(clickhouse, "SELECT source_file, line_no, reason, detail FROM quarantine WHERE landing_source = 'billing-client'")
    return {(Path(f).name, n): (r, d) for f, n, r, d in rows}


ACME1, ACME2, GLOBEX = ("acme", "ba-acme-1"), ("acme", "ba-acme-2"), ("globex", "ba-globex")
# The usage of fluentd-*.ndjson and events-same-usage.ndjson: r-1 at 10:05 (ba-acme-1), r-2 at
# 11:45+01:00 = 10:45 UTC (ba-acme-2), r-3 at 10:59:59.999999999Z (still this hour).
RECORDS_USAGE = {
    (*ACME1, "container-seconds"): Decimal(3600),
    (*ACME1, "node-seconds"): Decimal(120),
    (*ACME2, "weavenet-seconds"): Decimal(5),
    (*ACME2, "samples"): Decimal(7),
    (*GLOBEX, "samples"): Decimal(100),
}
RECORD_IDS = {"r-1:container-seconds", "r-1:node-seconds", "r-2:weavenet-seconds", "r-2:samples", "r-3:samples"}


def test_billing_client_fixture_golden_usage(clickhouse, landing, landing_dir, tmp_path):
    land(landing_dir, "client-a.ndjson", "client-b.ndjson")
    result = run_hour(clickhouse, landing, yaml_attributed_catalog(tmp_path))

    acme1, acme2, globex = ("acme", "ba-acme-1"), ("acme", "ba-acme-2"), ("globex", "ba-globex")
    expected = {
        # k-1 occurred at 12:29:59.999999999+02:00 = 10:29:59.999999 UTC (truncated): still ba-acme-1.
        (*acme1, "container-seconds"): 3600,
        (*acme1, "node-seconds"): 120,
        # k-2 at 10:30:00Z: ba-acme-2; its resend adds only the new node-seconds amount (container-seconds is a duplicate).
        (*acme2, "container-seconds"): 60,
        (*acme2, "weavenet-seconds"): 5,
        (*acme2, "samples"): 7,
        (*acme2, "node-seconds"): 9,
        # k-3 (older client, `timestamp` at 05:15:00.5-05:00) and k-11 at 10:59:59.999999999Z, which stays in this hour.
        (*globex, "samples"): 100 + 1,
    }
    got = {(t, a, m.removeprefix("billing-client/")): v for (t, a, m, _), v in usage_by_account(clickhouse, "billing-client/").items()}
    assert got == {k: Decimal(v) for k, v in expected.items()}

    assert quarantine_reasons(clickhouse, "billing-client") == {
        "missing_field": 2,  # amounts {} (no amount at all), no occurred_at
        "invalid_value": 2,  # an amount of 1.5, a negative amount
        "unattributed": 1,  # instance 9999 has no entry
        "invalid_time": 1,
        "malformed_json": 1,
        "unknown_event_type": 1,
    }
    meta = materialization_metadata(result, "accepted_events")
    # 14 lines: 5 accepted (k-1, k-2, k-3, k-11 and k-2's resend, which has one new amount), 1 duplicate (k-1 again).
    assert (meta["lines_read"], meta["accepted"], meta["duplicates"], meta["quarantined"]) == (14, 5, 1, 8)
    assert query(clickhouse, "SELECT count() FROM events WHERE source = 'billing-client'") == [(2 + 3 + 1 + 1 + 1,)]
    # A line's bytes sit on its first event only, so bytes_ingested sums per line, not per amount.
    first_line = (FOLDER / "client-a.ndjson").read_bytes().splitlines()[0]
    k1_bytes = query(clickhouse, "SELECT sum(bytes) FROM events WHERE startsWith(id, 'k-1:')")
    assert k1_bytes == [(len(first_line),)]
    assert {c.check_name: c.passed for c in result.get_asset_check_evaluations()}["lines_reconcile"]


def test_renamed_field_is_a_catalog_change(clickhouse, landing, landing_dir, tmp_path):
    """A client that renames internal_instance_id and occurred_at: quarantined until the catalog maps the new names."""
    line = '{"unique_key":"r-1","instance_ref":"2002","event_time":"2026-11-22T10:10:00Z","amounts":{"samples":4},"metadata":null}'
    folder = landing_dir / "billing-client" / "2026/11/22/10"
    folder.mkdir(parents=True)
    (folder / "renamed.ndjson").write_text(line + "\n")
    run_hour(clickhouse, landing, yaml_attributed_catalog(tmp_path), assets=[ingest])
    assert quarantine_reasons(clickhouse, "billing-client") == {"missing_field": 1}

    def rename(document):
        fields = next(s for s in document["sources"] if s["name"] == "billing-client")["fields"]
        fields["instance_id"] = "$.instance_ref"
        fields["occurred_at"] = ["$.occurred_at", "$.timestamp", "$.event_time"]

    run_hour(clickhouse, landing, yaml_attributed_catalog(tmp_path, rename, "renamed.yaml"))
    assert quarantine_reasons(clickhouse, "billing-client") == {}
    assert usage_by_account(clickhouse, "billing-client/") == {("globex", "ba-globex", "billing-client/samples", ()): Decimal(4)}


@pytest.mark.parametrize("layout", ["out_file", "json", "out_s3 gzip"])
def test_fluentd_records_golden_usage(clickhouse, landing, landing_dir, tmp_path, layout):
    """The records toRecords() posts, in each layout fluentd stores them: the same usage, ids <key>:<amount type>."""
    if layout == "out_file":
        land(landing_dir, "fluentd-out-file.ndjson")
    elif layout == "json":
        land(landing_dir, "fluentd-json.ndjson")
    else:
        land(landing_dir, gzipped=("fluentd-out-file.ndjson",))
    result = run_hour(clickhouse, landing, yaml_attributed_catalog(tmp_path))

    assert usage_got(clickhouse) == RECORDS_USAGE
    assert quarantine_reasons(clickhouse, "billing-client") == {}
    assert counts(result) == (5, 5, 0, 0)
    rows = query(clickhouse, "SELECT id, type, data FROM events WHERE source = 'billing-client' AND id = 'r-1:node-seconds'")
    assert {id for (id,) in query(clickhouse, "SELECT id FROM events WHERE source = 'billing-client'")} == RECORD_IDS
    # data is the same whichever shape carried the usage: unique_key is the Event's key.
    assert rows == [
        (
            "r-1:node-seconds",
            "billing-client/node-seconds",
            '{"amount_type":"node-seconds","amount":120,"unique_key":"r-1","instance_id":"1001",'
            '"metadata":{"report":"s3://weave-reports/r-1"}}',
        )
    ]
    # A line's bytes are the landing line's, fluentd's time and tag included.
    first = (FOLDER / ("fluentd-json.ndjson" if layout == "json" else "fluentd-out-file.ndjson")).read_bytes().splitlines()[0]
    assert query(clickhouse, "SELECT sum(bytes) FROM events WHERE id = 'r-1:node-seconds'") == [(len(first),)]


def test_the_same_usage_as_an_event_and_as_records_counts_once(clickhouse, landing, landing_dir, tmp_path):
    """r-1..r-3 sent as Events and as the records of both fluentd layouts: billed once, the rest duplicates."""
    land(landing_dir, "events-same-usage.ndjson", "fluentd-out-file.ndjson", "fluentd-json.ndjson")
    result = run_hour(clickhouse, landing, yaml_attributed_catalog(tmp_path))

    assert usage_got(clickhouse) == RECORDS_USAGE
    assert quarantine_reasons(clickhouse, "billing-client") == {}
    # 3 Event lines (first by file name) accepted; the 5 + 5 record lines are duplicates of their amounts.
    assert counts(result) == (13, 3, 10, 0)
    assert {id for (id,) in query(clickhouse, "SELECT id FROM events WHERE source = 'billing-client'")} == RECORD_IDS


def test_blank_keys_and_types_wrong_types_and_unusable_amounts(clickhouse, landing, landing_dir, tmp_path):
    """Nothing is given an id from a blank key or amount type (two blank-key usages never merge into one);
    absent/null/blank is missing_field, a JSON type the library never writes invalid_field, the right
    type but unusable invalid_value. Line by line: fixtures/billing_client/SOURCES.md."""
    land(landing_dir, "records-broken.ndjson", "events-broken.ndjson")
    result = run_hour(clickhouse, landing, yaml_attributed_catalog(tmp_path))

    got = quarantined(clickhouse)
    records = {n: reason for (f, n), (reason, _) in got.items() if f == "records-broken.ndjson"}
    events = {n: reason for (f, n), (reason, _) in got.items() if f == "events-broken.ndjson"}
    assert records == {
        1: "missing_field",
        2: "missing_field",  # blank keys: ":samples", "   :samples"
        3: "missing_field",  # blank amount_type
        4: "invalid_field",  # amount_value "14", a JSON string
        5: "invalid_value",
        6: "invalid_value",  # 1.5; 9223372036854775808, beyond int64
        7: "missing_field",  # amount_value null
        8: "invalid_field",  # amount_value an object
        9: "invalid_field",  # unique_key "b-9:node-seconds" for amount_type samples
        10: "invalid_field",  # both amounts and amount_type/amount_value
    }
    assert events == {
        1: "missing_field",
        2: "missing_field",  # unique_key "" and "  "
        3: "missing_field",
        4: "missing_field",  # amount types "" and " "
        5: "invalid_field",  # amount "25", a JSON string
        6: "missing_field",  # amount null
        7: "invalid_value",  # 1.5
        8: "invalid_field",  # unique_key a number
    }
    assert got[("records-broken.ndjson", 4)][1] == "an amount must be a JSON number (int64 in the library)"
    assert got[("records-broken.ndjson", 1)][1].startswith("unique_key is missing or blank")
    assert got[("events-broken.ndjson", 3)][1] == "an amount type is missing or blank"
    assert counts(result) == (18, 0, 0, 18)
    assert query(clickhouse, "SELECT count() FROM events WHERE source = 'billing-client'") == [(0,)]
    assert usage_got(clickhouse) == {}


def test_two_different_blank_key_usages_are_never_merged(clickhouse, landing, landing_dir, tmp_path):
    """The bug: two blank-key Events got one id, the second was dropped as a duplicate, its usage never billed.
    Both are now quarantined, each on its own line, and nothing is counted as a duplicate."""
    folder = landing_dir / "billing-client" / HOUR_PATH
    folder.mkdir(parents=True)
    lines = [(FOLDER / "events-broken.ndjson").read_text().splitlines()[i] for i in (0, 1)]
    lines += [(FOLDER / "records-broken.ndjson").read_text().splitlines()[i] for i in (0, 1)]
    (folder / "blank.ndjson").write_text("\n".join(lines) + "\n")
    result = run_hour(clickhouse, landing, yaml_attributed_catalog(tmp_path))
    assert counts(result) == (4, 0, 0, 4)
    assert quarantine_reasons(clickhouse, "billing-client") == {"missing_field": 4}
