"""The quarter-hour export grain on real chDB and both store kinds, from usage_quarter_hourly rows set here:
ids, one grain per destination, corrections per window, a crash before the commit, an unknown grain."""

from datetime import timedelta
from decimal import Decimal

import pytest

from metering_pipeline.definitions import resources
from metering_pipeline.export import hour as export_hour_module
from metering_pipeline.export.amounts import Amount, UsageKey
from metering_pipeline.export.grain import HOUR as HOUR_GRAIN
from metering_pipeline.export.grain import QUARTER_HOUR
from metering_pipeline.export.ledger import LEDGER, ensure_ledger, ledger_tables
from metering_pipeline.export.records import build_record, object_id, record_id, window_extent, window_of
from metering_pipeline.observability.assets import exported_revisions
from metering_pipeline.observability.run_log import ObservedStep
from metering_pipeline.provenance.explain import ExplainError, target_of_record
from metering_pipeline.resources.export_store import ExportStore
from metering_pipeline.warehouse.staging import staging, swap_partition
from metering_pipeline.warehouse.tables import USAGE_QUARTER_HOURLY, ensure_tables
from metering_pipeline_tests.support.export_helpers import (
    HOUR,
    KEY,
    USAGE_COLUMNS,
    checks,
    data_objects,
    manifests,
    records,
    revisions,
    run_export,
    set_usage,
    stored,
    usage,
)

MINUTE = {0: HOUR, 15: HOUR + timedelta(minutes=15), 30: HOUR + timedelta(minutes=30), 45: HOUR + timedelta(minutes=45)}


def set_quarter_usage(clickhouse, rows: dict[int, list[dict]], hourly: bool = True) -> None:
    """Replace the hour of usage_quarter_hourly with {window minute: usage rows}, by the usage step's swap,
    and (unless `hourly` is False) usage_hourly with their roll-up (the rows' meter is a count)."""
    columns = USAGE_COLUMNS[:1] + ["window_start"] + USAGE_COLUMNS[1:]
    values = [
        [HOUR, MINUTE[minute], r["tenant_id"], r["billing_account_id"], r["meter"], "gateway.request", "count", "requests"]
        + [r["dimensions"], r["value"], r["event_count"], 0, HOUR]
        for minute, group in rows.items()
        for r in group
    ]
    with clickhouse.get_client() as client:
        ensure_tables(client, USAGE_QUARTER_HOURLY)
        with staging(client) as area:
            staged = area.like(USAGE_QUARTER_HOURLY)
            if values:
                client.insert(staged, values, column_names=columns)
            swap_partition(client, USAGE_QUARTER_HOURLY, staged, HOUR)
    if hourly:
        rolled: dict[tuple, dict] = {}
        for r in (r for group in rows.values() for r in group):
            key = (r["tenant_id"], r["meter"], tuple(sorted(r["dimensions"].items())))
            seen = rolled.setdefault(key, {**r, "value": Decimal(0), "event_count": 0})
            seen["value"] += r["value"]
            seen["event_count"] += r["event_count"]
        set_usage(clickhouse, list(rolled.values()))


def quarter(store: ExportStore) -> ExportStore:
    return ExportStore(**{**store.model_dump(), "grain": "quarter_hour"})


def quarter_revisions(clickhouse) -> list[int]:
    table = ledger_tables(QUARTER_HOUR)["export_revisions"]
    with clickhouse.get_client() as client:
        ensure_ledger(client, QUARTER_HOUR)
        return [r for (r,) in client.query(f"SELECT revision FROM `{table}` FINAL ORDER BY revision").result_rows]


def failure_message(result) -> str:
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    return failure.event_specific_data.error.cause.message


def test_windows_and_ids():
    windows = QUARTER_HOUR.windows(KEY)
    assert [(w.start, w.end - w.start, w.partition_key) for w in windows] == [(m, timedelta(minutes=15), KEY) for m in MINUTE.values()]
    assert HOUR_GRAIN.windows(KEY) == [window_of(KEY)] and window_extent(window_of(KEY)) == ()
    key, amount = UsageKey.of("m", "acme", "", {"s": "1"}), Amount(Decimal(1), 1, "t", "u")
    hourly = build_record(key, amount, 0, window_of(KEY), "h")
    assert hourly.id == record_id("acme", "", "m", {"s": "1"}, "2026-11-22T10:00:00Z", 0)  # the hour's ids stay as issued
    quarters = [build_record(key, amount, 0, w, "h") for w in windows]
    assert len({hourly.id, *(r.id for r in quarters)}) == 5
    assert [r.id for r in quarters] == [build_record(key, amount, 0, w, "h").id for w in windows]  # deterministic
    objects = {object_id(KEY, "m", 0, 0, window_extent(w)) for w in windows} | {object_id(KEY, "m", 0, 0)}
    assert len(objects) == 5


def test_one_destination_holds_one_grain_per_hour(clickhouse, export_store, tmp_path):
    set_quarter_usage(clickhouse, {15: [usage("acme")]})
    run_export(clickhouse, export_store)
    before = stored(export_store)
    result = run_export(clickhouse, quarter(export_store), raise_on_error=False)
    assert not result.success and "already exported at the hour grain" in failure_message(result)
    assert stored(export_store) == before and quarter_revisions(clickhouse) == []

    # The same warehouse feeds a quarter-hour destination beside the hourly one; that one then refuses the hour.
    other = ExportStore(url=str(tmp_path / "quarter"), grain="quarter_hour")
    assert run_export(clickhouse, other).success and quarter_revisions(clickhouse) == [0]
    result = run_export(clickhouse, ExportStore(url=other.url), raise_on_error=False)
    assert not result.success and "already exported at the quarter_hour grain" in failure_message(result)
    assert revisions(clickhouse) == [0]


def test_corrections_are_per_window(clickhouse, export_store):
    store = quarter(export_store)
    acme = usage("acme", value="5", events=5)
    set_quarter_usage(clickhouse, {0: [acme], 30: [usage("acme", value="3", events=3)], 45: [usage("globex")]})
    run_export(clickhouse, store)
    first = stored(store)
    assert sorted(k.split("/")[5] for k in data_objects(first)) == ["00", "30", "45"]

    set_quarter_usage(clickhouse, {0: [acme], 45: [usage("globex", value="4", events=4)]})
    result = run_export(clickhouse, store)
    second = stored(store)
    assert {k: second[k] for k in first} == first and all(checks(result).values())
    new = [r for r in records(second) if r["revision"] == 1]
    got = sorted((r["window_start"], r["tenant_id"], r["quantity"], r["event_count"], r["kind"]) for r in new)
    assert got == [("2026-11-22T10:30:00Z", "acme", "-3", -3, "correction"), ("2026-11-22T10:45:00Z", "globex", "3", 3, "correction")]
    assert sorted(manifests(second))[-1] == "_manifests/quarter_hour/2026/11/22/10/00/revision-000001.json"

    assert run_export(clickhouse, store).success  # unchanged usage: nothing new, same bytes
    assert stored(store) == second and quarter_revisions(clickhouse) == [0, 1]
    with clickhouse.get_client() as client:
        assert not client.command("EXISTS TABLE {t:Identifier}", parameters={"t": LEDGER})  # no hourly ledger at this grain


def test_a_crash_before_the_commit_is_retried_byte_for_byte(clickhouse, export_store):
    store = quarter(export_store)
    set_quarter_usage(clickhouse, {m: [usage(t, value=str(m + 1)) for t in ("acme", "globex")] for m in MINUTE})

    def killed(*args, **kwargs):
        raise RuntimeError("killed before the ledger commit")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(export_hour_module, "commit", killed)
        assert not run_export(clickhouse, store, raise_on_error=False).success
    crashed = stored(store)
    assert len(data_objects(crashed)) == 4 and not manifests(crashed) and quarter_revisions(clickhouse) == []
    result = run_export(clickhouse, store)
    after = stored(store)
    assert data_objects(after) == crashed and len(manifests(after)) == 1 and all(checks(result).values())


def test_an_unknown_grain_fails_before_anything_is_written(clickhouse, tmp_path):
    result = run_export(clickhouse, ExportStore(url=str(tmp_path / "export"), grain="daily"), raise_on_error=False)
    assert not result.success and "unknown export grain 'daily'" in failure_message(result)
    assert not (tmp_path / "export").exists()


def test_an_hour_without_its_windows_is_refused(clickhouse, export_store):
    """An hour built before usage_quarter_hourly existed has usage_hourly rows only: exporting it at the
    quarter-hour grain would commit an empty revision 0 ("nothing used"), so it fails instead."""
    set_usage(clickhouse, [usage("acme", value="3", events=3)])
    set_quarter_usage(clickhouse, {}, hourly=False)
    result = run_export(clickhouse, quarter(export_store), raise_on_error=False)
    assert not result.success and "rerun usage_hourly for this hour" in failure_message(result)
    assert stored(export_store) == {} and quarter_revisions(clickhouse) == []
    set_quarter_usage(clickhouse, {45: [usage("acme", value="3", events=3)]})
    assert run_export(clickhouse, quarter(export_store)).success and quarter_revisions(clickhouse) == [0]


def test_the_grain_setting_reaches_the_export_store(monkeypatch):
    """METERING_EXPORT_GRAIN is passed as a dg.EnvVar (resolved at launch); unset, the grain is the hour."""
    monkeypatch.delenv("METERING_EXPORT_GRAIN", raising=False)
    assert resources()["export_store"].process_config_and_initialize().export_grain == HOUR_GRAIN
    monkeypatch.setenv("METERING_EXPORT_GRAIN", "quarter_hour")
    assert resources()["export_store"].process_config_and_initialize().export_grain == QUARTER_HOUR


def test_explain_names_a_quarter_hour_record_and_points_to_its_hour(clickhouse, export_store):
    """explain works on hourly records; a quarter-hour record's id is recognised, not reported unknown."""
    store = quarter(export_store)
    set_quarter_usage(clickhouse, {15: [usage("acme", value="2", events=2)]})
    run_export(clickhouse, store)
    [record] = records(stored(store))
    with clickhouse.get_client() as client:
        with pytest.raises(ExplainError, match="quarter-hour record") as raised:
            target_of_record(client, record["id"])
        with pytest.raises(ExplainError, match="no exported record has id"):
            target_of_record(client, "00000000-0000-0000-0000-000000000000")
    assert '--tenant "acme"' in str(raised.value) and "--hour 2026-11-22T10:00" in str(raised.value)


def test_the_observer_reads_the_revisions_of_the_grain_the_export_ran_at(clickhouse, export_store):
    """pipeline_runs reads back what billing_export committed from that grain's ledger (no hourly ledger exists here)."""
    set_quarter_usage(clickhouse, {0: [usage("acme", value="5", events=5)], 30: [usage("acme", value="3", events=3)]})
    run_export(clickhouse, quarter(export_store))
    metadata = {"grain": "quarter_hour", "new_revisions": {"2026-11-22-10:00": 0}}
    step = ObservedStep("billing_export", "billing_export", {"2026-11-22-10:00"}, metadata)
    with clickhouse.get_client() as client:
        [revision] = exported_revisions(client, step)
    assert revision.revision == 0 and revision.records == 2
    assert list(revision.quantities.values()) == [Decimal("8")]
