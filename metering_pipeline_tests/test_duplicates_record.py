"""Every dropped duplicate is on record in `duplicates`: where it came from, which copy counted, and
whether it said the same thing; the reconciliation and the conflicting-duplicates check read it."""

import json

from metering_pipeline_tests.support.events import land, line, materialization_metadata, query, run_hour

DUPLICATE_ROWS = (
    "SELECT source, id, source_file, line_no, kept_file, kept_line_no, identical FROM duplicates ORDER BY source_file, line_no, sub"
)
F = "events/2026/11/22/10/"


def _checks(result) -> dict:
    return {c.check_name: c for c in result.get_asset_check_evaluations()}


def test_duplicates_across_and_within_files_identical_and_conflicting(clickhouse, landing, landing_dir, catalog_resource):
    land(landing_dir, "a.ndjson", [line("e1"), line("e2"), line("e1"), line("e3")])  # e1 again within a.ndjson: identical
    land(
        landing_dir,
        "b.ndjson",
        [
            line("e2", data={"service_id": "svc", "bytes_sent": 999, "bytes_received": 1}),  # e2 reused for another quantity
            line("e4"),
            line("e3"),  # identical, across files
            line("e1", subject="other-tenant"),  # same id, another tenant: conflicting
        ],
    )
    result = run_hour(clickhouse, landing, catalog_resource)
    assert query(clickhouse, DUPLICATE_ROWS) == [
        ("edge", "e1", F + "a.ndjson", 3, F + "a.ndjson", 1, True),
        ("edge", "e2", F + "b.ndjson", 1, F + "a.ndjson", 2, False),
        ("edge", "e3", F + "b.ndjson", 3, F + "a.ndjson", 4, True),
        ("edge", "e1", F + "b.ndjson", 4, F + "a.ndjson", 1, False),
    ]
    # The kept copies are the counted ones: e2 with 10 bytes, e1 for acme.
    assert query(clickhouse, "SELECT id, tenant_id, JSONExtractInt(data, 'bytes_sent') FROM events ORDER BY id") == [
        ("e1", "acme", 10),
        ("e2", "acme", 10),
        ("e3", "acme", 10),
        ("e4", "acme", 10),
    ]
    metadata = materialization_metadata(result, "accepted_events")
    assert (metadata["duplicates"], metadata["duplicate_events"]) == (4, 4)
    assert (metadata["duplicates_identical"], metadata["duplicates_conflicting"]) == (2, 2)
    checks = _checks(result)
    assert checks["lines_reconcile"].passed
    assert checks["lines_reconcile"].metadata["duplicate_lines_on_record"].value == 4
    conflicting = checks["no_conflicting_duplicates"]
    assert not conflicting.passed and conflicting.severity.value == "WARN"
    examples = conflicting.metadata["examples"].value
    assert [(e["id"], e["line"], e["kept_file"], e["kept_line"]) for e in examples] == [
        ("e2", 1, F + "a.ndjson", 2),
        ("e1", 4, F + "a.ndjson", 1),
    ]
    json.dumps(examples)  # plain JSON metadata


def test_rerun_replaces_the_hours_duplicates_and_a_late_copy_is_recorded(clickhouse, landing, landing_dir, catalog_resource):
    land(landing_dir, "a.ndjson", [line("e1"), line("e1")])
    run_hour(clickhouse, landing, catalog_resource)
    run_hour(clickhouse, landing, catalog_resource)
    assert query(clickhouse, DUPLICATE_ROWS) == [("edge", "e1", F + "a.ndjson", 2, F + "a.ndjson", 1, True)]
    land(landing_dir, "0-early-name.ndjson", [line("e1")])  # sorts first: it becomes the kept copy
    result = run_hour(clickhouse, landing, catalog_resource)
    assert query(clickhouse, DUPLICATE_ROWS) == [
        ("edge", "e1", F + "a.ndjson", 1, F + "0-early-name.ndjson", 1, True),
        ("edge", "e1", F + "a.ndjson", 2, F + "0-early-name.ndjson", 1, True),
    ]
    checks = _checks(result)
    assert checks["lines_reconcile"].passed and checks["no_conflicting_duplicates"].passed


def test_a_line_with_one_new_event_is_accepted_and_its_old_event_still_on_record(clickhouse, landing, landing_dir, catalog_resource):
    """A CloudEvents batch holding a seen event and a new one: the line is accepted (not a duplicate
    line), and the seen event's dropped copy is on record; the reconciliation counts lines."""
    batch = json.dumps([json.loads(line("e1")), json.loads(line("e9"))])
    land(landing_dir, "a.ndjson", [line("e1"), batch])
    result = run_hour(clickhouse, landing, catalog_resource)
    assert query(clickhouse, "SELECT id, line_no, sub, kept_line_no FROM duplicates") == [("e1", 2, 0, 1)]
    metadata = materialization_metadata(result, "accepted_events")
    assert (metadata["accepted"], metadata["duplicates"], metadata["duplicate_events"]) == (2, 0, 1)
    assert _checks(result)["lines_reconcile"].passed


def test_lines_reconcile_fails_when_the_duplicates_table_does_not_hold_the_hour(
    clickhouse, landing, landing_dir, catalog_resource, monkeypatch
):
    """The figure and the table are counted apart: a `duplicates` hour that was not swapped in (here
    skipped on purpose) leaves the reported duplicate lines without rows, and the check fails."""
    from metering_pipeline.ingest import hour as ingest_hour_module
    from metering_pipeline.warehouse.tables import DUPLICATES

    land(landing_dir, "a.ndjson", [line("e1"), line("e1"), line("e2")])
    real_swap = ingest_hour_module.swap_partition

    def swap_all_but_duplicates(client, table, staged, hour):
        if table != DUPLICATES:
            real_swap(client, table, staged, hour)

    monkeypatch.setattr(ingest_hour_module, "swap_partition", swap_all_but_duplicates)
    result = run_hour(clickhouse, landing, catalog_resource)
    check = _checks(result)["lines_reconcile"]
    assert not check.passed
    assert (check.metadata["duplicates"].value, check.metadata["duplicate_lines_on_record"].value) == (1, 0)


def test_identical_means_bills_the_same(clickhouse, landing, landing_dir, catalog_resource):
    """A retry re-stamped within the hour, or carrying a member no meter reads, bills the same: identical.
    Another value for a meter of the type, or another dimension value, does not: conflicting."""
    base = {"service_id": "svc", "bytes_sent": 10, "bytes_received": 1}
    land(
        landing_dir,
        "a.ndjson",
        [
            line("r1", data=base),
            line("r1", time="2026-11-22T10:31:00Z", data={**base, "trace": "retry-2"}),
            line("r2", data=base),
            line("r2", data={**base, "bytes_received": 2}),  # gateway_ingress_bytes reads it
            line("r3", data=base),
            line("r3", data={**base, "service_id": "other"}),  # a dimension
        ],
    )
    run_hour(clickhouse, landing, catalog_resource)
    assert query(clickhouse, "SELECT id, identical, time FROM duplicates ORDER BY id") == [
        ("r1", True, query(clickhouse, "SELECT toDateTime64('2026-11-22 10:31:00', 6, 'UTC')")[0][0]),
        ("r2", False, query(clickhouse, "SELECT toDateTime64('2026-11-22 10:30:00', 6, 'UTC')")[0][0]),
        ("r3", False, query(clickhouse, "SELECT toDateTime64('2026-11-22 10:30:00', 6, 'UTC')")[0][0]),
    ]
