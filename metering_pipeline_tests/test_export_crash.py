"""Crashes at each point of an hour's export, then a rerun: same keys, same bytes, nothing counted twice.

Crashes are injected by monkeypatching the store backend's `put` (and the ledger commit),
which is exactly where a killed process would stop.
"""

import pytest

from metering_pipeline.export import hour as export_hour_module
from metering_pipeline.export.ledger import ConcurrentExport, commit, ensure_ledger
from metering_pipeline_tests.support.export_helpers import (
    HOUR,
    checks,
    data_objects,
    ledger,
    make_store,
    manifests,
    metadata,
    records,
    revisions,
    run_export,
    set_usage,
    stored,
    totals,
    usage,
)

USAGE = [usage(f"t{i:02d}", value=str(i + 1)) for i in range(60)] + [usage("acme", "api_calls", "3", dims={"endpoint": "/v1"})]


class Crash(RuntimeError):
    pass


def crash_put_after(monkeypatch, export_store, successful_puts: int, only=lambda key: True):
    backend = type(export_store.open())
    original = backend.put
    done = []

    def put(self, key, body, content_type):
        if only(key):
            if len(done) == successful_puts:
                raise Crash(f"killed before PUT {key}")
            done.append(key)
        return original(self, key, body, content_type)

    monkeypatch.setattr(backend, "put", put)
    return done


def reference(clickhouse, export_store) -> dict[str, bytes]:
    """What a clean export of the same usage writes."""
    run_export(clickhouse, export_store)
    return stored(export_store)


def test_crash_after_the_first_put_then_rerun(clickhouse, export_store):
    set_usage(clickhouse, USAGE)
    with pytest.MonkeyPatch.context() as patch:  # not `monkeypatch`: its undo() would drop the AWS env too
        done = crash_put_after(patch, export_store, 1)
        failed = run_export(clickhouse, export_store, raise_on_error=False)
    assert not failed.success
    assert len(done) == 1 and list(stored(export_store)) == done  # one object, no manifest
    assert ledger(clickhouse) == [] and revisions(clickhouse) == []
    written_before_crash = stored(export_store)

    result = run_export(clickhouse, export_store)
    after = stored(export_store)
    assert after[done[0]] == written_before_crash[done[0]]  # same key, same bytes
    assert len(data_objects(after)) == 3 and len(manifests(after)) == 1
    assert len(ledger(clickhouse)) == len(USAGE) and revisions(clickhouse) == [0]
    assert len(records(after)) == len(USAGE)  # nothing doubled
    assert metadata(result)["revision"] == 0 and all(checks(result).values())


def test_crash_between_ledger_commit_and_manifest(clickhouse, export_store):
    set_usage(clickhouse, USAGE)
    with pytest.MonkeyPatch.context() as patch:
        crash_put_after(patch, export_store, 0, only=lambda key: key.startswith("_manifests/"))
        assert not run_export(clickhouse, export_store, raise_on_error=False).success
    assert revisions(clickhouse) == [0] and manifests(stored(export_store)) == {}
    objects_before = stored(export_store)

    result = run_export(clickhouse, export_store)
    after = stored(export_store)
    assert metadata(result)["objects"] == 0 and metadata(result)["manifests"] == 1  # only the manifest is new
    assert data_objects(after) == objects_before and revisions(clickhouse) == [0]
    assert all(checks(result).values())

    # The recovered manifest is byte-identical to the one a clean run writes.
    for key in list(after):
        export_store.open().delete(key)
    with clickhouse.get_client() as client:
        client.command("TRUNCATE TABLE export_ledger")
        client.command("TRUNCATE TABLE export_revisions")
    assert reference(clickhouse, export_store) == after


def test_crash_before_the_ledger_commit_records_nothing(clickhouse, export_store):
    set_usage(clickhouse, USAGE)

    def killed(*args, **kwargs):
        raise Crash("killed before the ledger commit")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(export_hour_module, "commit", killed)
        assert not run_export(clickhouse, export_store, raise_on_error=False).success
    assert ledger(clickhouse) == [] and len(data_objects(stored(export_store))) == 3
    run_export(clickhouse, export_store)
    assert len(ledger(clickhouse)) == len(USAGE) and revisions(clickhouse) == [0]


def test_crash_then_changed_usage_sweeps_the_uncommitted_objects(clickhouse, export_store):
    set_usage(clickhouse, USAGE)
    with pytest.MonkeyPatch.context() as patch:
        done = crash_put_after(patch, export_store, 2)
        assert not run_export(clickhouse, export_store, raise_on_error=False).success

    smaller = [usage("acme", value="9")]
    set_usage(clickhouse, smaller)  # usage changed before the retry: revision 0 is now one object
    result = run_export(clickhouse, export_store)
    after = stored(export_store)
    assert len(data_objects(after)) == 1 and metadata(result)["strays_removed"] >= 1
    assert set(done) - set(after)  # the crashed attempt's api_calls object is gone
    assert totals(records(after)) == {("acme", "", "gateway_requests", (("service_id", "svc"),)): (9, 1)}
    assert all(checks(result).values())


@pytest.mark.parametrize("stray", ["gateway_requests/2026/11/22/10/00/not-ours.jsonl"])
def test_a_foreign_file_under_an_hour_fails_the_check(clickhouse, export_store, stray):
    set_usage(clickhouse, [usage("acme")])
    run_export(clickhouse, export_store)
    export_store.open().put(stray, b"{}\n", "application/x-ndjson")
    result = run_export(clickhouse, export_store)
    assert checks(result)["objects_match_manifests"] is False
    assert checks(result)["ledger_matches_usage"] is True


def test_a_deleted_object_fails_the_check(clickhouse, export_store):
    set_usage(clickhouse, [usage("acme")])
    run_export(clickhouse, export_store)
    [key] = data_objects(stored(export_store))
    export_store.open().delete(key)
    result = run_export(clickhouse, export_store)
    assert checks(result) == {"ledger_matches_usage": True, "objects_match_manifests": False, "objects_within_limits": True}


def test_crash_between_ledger_rows_and_revision_row_is_repaired(clickhouse, tmp_path):
    store = make_store("local", tmp_path)
    set_usage(clickhouse, USAGE)
    run_export(clickhouse, store)
    clean = stored(store)
    # The state a crash right after the ledger insert leaves: no revision row, no manifest.
    with clickhouse.get_client() as client:
        client.command("TRUNCATE TABLE export_revisions")
    [manifest_key] = manifests(clean)
    store.open().delete(manifest_key)

    result = run_export(clickhouse, store)
    assert stored(store) == clean and revisions(clickhouse) == [0]  # same manifest bytes, no new revision
    assert metadata(result)["objects"] == 0 and all(checks(result).values())


def test_commit_refuses_a_revision_taken_meanwhile(clickhouse):
    set_usage(clickhouse, [usage("acme")])
    with clickhouse.get_client() as client:
        ensure_ledger(client)
        commit(client, HOUR, 0, [], "m0", "h", 0)
        with pytest.raises(ConcurrentExport):
            commit(client, HOUR, 0, [], "m0", "h", 0)
        with pytest.raises(ConcurrentExport):
            commit(client, HOUR, 2, [], "m2", "h", 0)
