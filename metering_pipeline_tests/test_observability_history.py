"""The metric catalog, the exposition, the run history on real chDB, and `metering-pipeline status`."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from metering_pipeline.cli import main
from metering_pipeline.cli.status import HEADER, status_rows
from metering_pipeline.export.ledger import REVISION_COLUMNS, REVISIONS, ensure_ledger
from metering_pipeline.observability.history import PIPELINE_RUNS, StepRecord, current_samples, record_steps
from metering_pipeline.observability.metrics import QUARANTINE_REASONS, Sample, ingest_samples, sample
from metering_pipeline.observability.pushgateway import registry_of
from metering_pipeline_tests.support.hostile import TEXTS

H10 = datetime(2026, 11, 22, 10, tzinfo=UTC)


def source_figures(read, accepted, duplicates, reasons: dict, events: dict | None = None) -> dict:
    """One landing source's entry of the ingest metadata's `by_source` (ingest/accounting.py)."""
    quarantined = sum(reasons.values())
    return {
        "lines_read": read,
        "accepted": accepted,
        "duplicates": duplicates,
        "quarantined": quarantined,
        "quarantined_by_reason": reasons,
        "events_by_type": events or {},
    }


def ingest_metadata(**by_source: dict) -> dict:
    totals = {k: sum(f[k] for f in by_source.values()) for k in ("lines_read", "accepted", "duplicates", "quarantined")}
    return totals | {"files": 2, "bytes_read": 900, "by_source": by_source}


INGEST_METADATA = ingest_metadata(
    events=source_figures(7, 4, 1, {"malformed_json": 2}, {"api.call": 4}),
    gateway=source_figures(3, 2, 0, {"invalid_value": 1}, {"gateway.request": 3}),
)


def _values(samples, metric) -> dict:
    return {s.labels: s.value for s in samples if s.metric == metric}


def test_ingest_samples_are_the_metadata_by_landing_source_and_reconcile():
    samples = ingest_samples(INGEST_METADATA)
    lines = _values(samples, "metering_lines_total")
    assert lines == {
        (("outcome", "accepted"), ("source", "events")): 4,
        (("outcome", "duplicate"), ("source", "events")): 1,
        (("outcome", "quarantined"), ("source", "events")): 2,
        (("outcome", "accepted"), ("source", "gateway")): 2,
        (("outcome", "duplicate"), ("source", "gateway")): 0,
        (("outcome", "quarantined"), ("source", "gateway")): 1,
    }
    read = _values(samples, "metering_lines_read_total")
    assert read == {(("source", "events"),): 7, (("source", "gateway"),): 3}
    reasons = _values(samples, "metering_quarantined_lines_total")
    assert len(reasons) == 2 * len(QUARANTINE_REASONS) and sum(reasons.values()) == 3
    assert reasons[(("reason", "invalid_value"), ("source", "gateway"))] == 1
    assert _values(samples, "metering_events_total") == {
        (("event_type", "api.call"), ("source", "events")): 4,
        (("event_type", "gateway.request"), ("source", "gateway")): 3,
    }


def test_a_sample_takes_exactly_its_metrics_labels():
    with pytest.raises(KeyError):
        sample("metering_tenant_usage_total", 1)
    with pytest.raises(ValueError, match="takes labels"):
        sample("metering_lines_total", 1, source="events", outcome="accepted", tenant="acme")  # an unbounded label is refused
    with pytest.raises(ValueError, match="takes labels"):
        sample("metering_lines_total", 1, outcome="accepted")  # every line counter names its landing source
    with pytest.raises(ValueError, match="takes labels"):
        sample("metering_quantity_total", 1, meter="m")


@pytest.mark.parametrize("meter", [*TEXTS, 'quo"te\\back\nslash', "ünï😀"])
def test_hostile_label_values_survive_the_exposition(meter):
    samples = [sample("metering_quantity_total", Decimal("0.1"), meter=meter, unit="u"), sample("metering_usage_alerts_pending", 2)]
    text = generate_latest(registry_of(samples)).decode("utf-8")
    parsed = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert parsed == {("metering_quantity_total", (("meter", meter), ("unit", "u"))): 0.1, ("metering_usage_alerts_pending", ()): 2.0}


def _step(
    run: str, asset: str, hour: datetime, finished: datetime, samples=(), hours: int = 1, seconds: int = 30, error: str = ""
) -> StepRecord:
    start = finished - timedelta(seconds=seconds)
    return StepRecord(run, asset, hour, hour + timedelta(hours=hours - 1), hours, start, finished, (), tuple(samples), error)


def test_history_counters_add_up_runs_and_gauges_take_the_newest(clickhouse):
    first = ingest_samples(INGEST_METADATA)
    with clickhouse.get_client() as client:
        assert record_steps(client, [_step("r1", "accepted_events", H10, H10 + timedelta(hours=1, minutes=5), first)], H10) == 1
        # a retried observer step of the same run writes nothing
        assert record_steps(client, [_step("r1", "accepted_events", H10, H10 + timedelta(hours=1, minutes=6), first)], H10) == 0
        pending_then = [sample("metering_usage_alerts_pending", 3)]
        pending_now = [sample("metering_usage_alerts_pending", 1)]
        record_steps(
            client,
            [
                _step("r2", "accepted_events", H10, H10 + timedelta(hours=2), first, seconds=40),
                _step("r1", "usage_alerts", H10, H10 + timedelta(hours=1, minutes=7), pending_then),
                _step("r2", "usage_alerts", H10, H10 + timedelta(hours=2, minutes=1), pending_now),
                _step("r2", "billing_export", H10, H10 + timedelta(hours=2, minutes=2), hours=2, seconds=60),
            ],
            H10,
        )
        current = current_samples(client)
        assert client.command(f"SELECT count() FROM {PIPELINE_RUNS}") == 5
    assert _values(current, "metering_lines_read_total") == {(("source", "events"),): 14, (("source", "gateway"),): 6}  # work adds
    assert _values(current, "metering_lines_total")[(("outcome", "quarantined"), ("source", "events"))] == 4
    assert _values(current, "metering_usage_alerts_pending") == {(): 1}  # a gauge: the newest, not a sum
    success = _values(current, "metering_last_success_timestamp_seconds")
    assert success[(("asset", "accepted_events"),)] == Decimal(int((H10 + timedelta(hours=2)).timestamp()))
    durations = _values(current, "metering_hour_duration_seconds")
    assert durations[(("asset", "accepted_events"),)] == 40 and durations[(("asset", "billing_export"),)] == 30  # 60 s over 2 hours
    assert _values(current, "metering_last_complete_hour_timestamp_seconds") == {(): Decimal(int((H10 + timedelta(hours=1)).timestamp()))}


def _lines(read, accepted, duplicates, quarantined) -> list[Sample]:
    """The figures of an ingest step over two landing sources (status sums them)."""
    one = source_figures(1, 1, 0, {})
    rest = source_figures(read - 1, accepted - 1, duplicates, {"malformed_json": quarantined} if quarantined else {})
    return ingest_samples(ingest_metadata(events=one, gateway=rest))


def _history(client):
    """10:00 exported at revision 1 after its ingest; 11:00 ingested again after its export; 12:00 only
    ingested; 13:00-14:00 one backfill step; 15:00 nothing."""
    hour = [H10 + timedelta(hours=i) for i in range(6)]
    record_steps(
        client,
        [
            _step("a", "accepted_events", hour[0], hour[1] + timedelta(minutes=5), _lines(10, 6, 1, 3)),
            _step("a", "billing_export", hour[0], hour[1] + timedelta(minutes=6)),
            _step("b", "accepted_events", hour[1], hour[2] + timedelta(minutes=5), _lines(5, 5, 0, 0)),
            _step("b", "billing_export", hour[1], hour[2] + timedelta(minutes=6)),
            _step("c", "accepted_events", hour[1], hour[3] + timedelta(minutes=1), _lines(7, 7, 0, 0)),
            _step("c", "accepted_events", hour[2], hour[3] + timedelta(minutes=5), _lines(4, 4, 0, 0)),
            _step("d", "accepted_events", hour[3], hour[5] + timedelta(minutes=5), _lines(40, 40, 0, 0), hours=2),
            _step("d", "billing_export", hour[3], hour[5] + timedelta(minutes=6), hours=2),
            _step("e", "billing_export", hour[2], hour[3] + timedelta(minutes=6), error="ClientError"),  # 12:00 failed to export
            _step("f", "billing_export", hour[1], hour[2] + timedelta(minutes=1), error="ClientError"),  # 11:00 failed, then exported
        ],
        H10,
    )
    ensure_ledger(client)
    revisions = [[hour[0], 0, 1, 1, "m0", "c", H10], [hour[0], 1, 1, 1, "m1", "c", H10], [hour[1], 0, 1, 1, "m", "c", H10]]
    client.insert(REVISIONS, revisions, column_names=REVISION_COLUMNS)


def test_status_rows_from_the_history(clickhouse):
    with clickhouse.get_client() as client:
        _history(client)
        rows = [dict(zip(HEADER, r)) for r in status_rows(client, H10, H10 + timedelta(hours=6))]
    assert [r["hour"] for r in rows] == [f"2026-11-22 {h}:00" for h in (15, 14, 13, 12, 11, 10)]
    by_hour = {r["hour"][-5:-3]: r for r in rows}
    assert by_hour["10"] | {} == {
        "hour": "2026-11-22 10:00",
        "ingested_at": "2026-11-22T11:05:00Z",
        "lines_read": 10,
        "accepted": 6,
        "duplicates": 1,
        "quarantined": 3,
        "exported_at": "2026-11-22T11:06:00Z",
        "revision": 1,
        "lagging": "no",
        "failed": "",
    }
    assert by_hour["11"]["lines_read"] == 7 and by_hour["11"]["revision"] == 0 and by_hour["11"]["lagging"] == "yes"  # re-ingested
    assert by_hour["12"]["exported_at"] == "" and by_hour["12"]["lagging"] == "yes"
    assert by_hour["12"]["failed"] == "billing_export(ClientError)" and by_hour["11"]["failed"] == ""  # 11:00 succeeded after
    assert by_hour["13"]["lines_read"] == "" and by_hour["13"]["exported_at"] == "2026-11-22T15:06:00Z"  # a backfill's lines are the step's
    assert by_hour["14"]["lagging"] == "no" and by_hour["15"]["ingested_at"] == "" and by_hour["15"]["lagging"] == "yes"


def test_status_on_a_warehouse_without_history_creates_nothing(clickhouse):
    with clickhouse.get_client() as client:
        rows = status_rows(client, H10, H10 + timedelta(hours=2))
        assert client.command("SELECT count() FROM system.tables WHERE database = currentDatabase()") == 0
    assert [(r[0], r[-2], r[-1]) for r in rows] == [("2026-11-22 11:00", "yes", ""), ("2026-11-22 10:00", "yes", "")]


def test_status_command_prints_the_hours(clickhouse, monkeypatch, capsys):
    with clickhouse.get_client() as client:
        _history(client)
    monkeypatch.setenv("METERING_CLICKHOUSE_URL", clickhouse.url)
    assert main(["status", "--until", "2026-11-22T13:00", "--hours", "3", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ",".join(HEADER)
    assert lines[1:] == [
        "2026-11-22 12:00,2026-11-22T13:05:00Z,4,4,0,0,,,yes,billing_export(ClientError)",
        "2026-11-22 11:00,2026-11-22T13:01:00Z,7,7,0,0,2026-11-22T12:06:00Z,0,yes,",
        "2026-11-22 10:00,2026-11-22T11:05:00Z,10,6,1,3,2026-11-22T11:06:00Z,1,no,",
    ]
    assert main(["status", "--until", "2026-11-22T11:00", "--hours", "1"]) == 0
    [header, row] = capsys.readouterr().out.splitlines()
    assert header.split() == HEADER and row.split() == [
        "2026-11-22",
        "10:00",
        "2026-11-22T11:05:00Z",
        "10",
        "6",
        "1",
        "3",
        "2026-11-22T11:06:00Z",
        "1",
        "no",
    ]
    assert main(["status", "--hours", "0"]) == 2


def test_failed_steps_count_hours_and_never_pass_for_a_success(clickhouse):
    """A failure row adds its hours to metering_hour_failures_total and moves no success gauge; every asset
    in the history has the counter, at zero until it fails, so a first failure is an increase."""
    ok = H10 + timedelta(hours=1, minutes=5)
    with clickhouse.get_client() as client:
        record_steps(
            client,
            [
                _step("a", "accepted_events", H10, ok),
                _step("a", "billing_export", H10, ok),
                _step("b", "billing_export", H10, ok + timedelta(hours=2), hours=3, error="ClientError"),
            ],
            H10,
        )
        current = current_samples(client)
        rows = client.query(f"SELECT asset, outcome, error FROM {PIPELINE_RUNS} ORDER BY finished").result_rows
    assert rows == [("accepted_events", "success", ""), ("billing_export", "success", ""), ("billing_export", "failure", "ClientError")]
    assert _values(current, "metering_hour_failures_total") == {(("asset", "accepted_events"),): 0, (("asset", "billing_export"),): 3}
    assert _values(current, "metering_last_success_timestamp_seconds")[(("asset", "billing_export"),)] == Decimal(int(ok.timestamp()))
    assert _values(current, "metering_last_complete_hour_timestamp_seconds") == {(): Decimal(int(H10.timestamp()))}


def test_figures_recorded_under_an_older_label_set_are_not_pushed(clickhouse):
    """Line counters recorded before they carried `source` stay in the history and are left out of the push."""
    old = Sample("metering_lines_total", (("outcome", "accepted"),), Decimal(5))
    with clickhouse.get_client() as client:
        record_steps(client, [_step("old", "accepted_events", H10, H10 + timedelta(hours=1), [old])], H10)
        record_steps(client, [_step("new", "accepted_events", H10, H10 + timedelta(hours=2), ingest_samples(INGEST_METADATA))], H10)
        current = current_samples(client)
    lines = _values(current, "metering_lines_total")
    assert (("outcome", "accepted"),) not in lines and lines[(("outcome", "accepted"), ("source", "events"))] == 4
    generate_latest(registry_of(current))  # every sample has its metric's labels: the exposition does not fail
