"""The pipeline's metrics on a real Pushgateway (Debian's binary on loopback), scraped and parsed with
prometheus-client's parser: the figures are the hour's materializations, a rerun adds to counters and
replaces gauges, and a gateway that refuses or hangs leaves the hour green."""

import json
import logging
import random

import dagster as dg
import pytest

from metering_pipeline.export.assets import billing_export
from metering_pipeline.observability import PIPELINE_RUNS, Pushgateway, pipeline_runs
from metering_pipeline.observability.metrics import LINE_OUTCOMES, QUARANTINE_REASONS
from metering_pipeline.partitions import hour_start
from metering_pipeline.resources import ClickHouseResource
from metering_pipeline.resources.export_store import ExportStore
from metering_pipeline.resources.landing import hour_prefix
from metering_pipeline.samples import TENANTS, sample_event, write_sample_hour
from metering_pipeline_tests.fixtures.landing import land_fixture
from metering_pipeline_tests.support.cli import materialize_hour
from metering_pipeline_tests.support.crash_harness import write_catalog
from metering_pipeline_tests.support.operate import PIPELINE, materialize, resources, write_quotas
from metering_pipeline_tests.support.pushgateway import PushgatewayProcess, SilentGateway, free_port
from metering_pipeline_tests.support.webhook_receiver import WebhookReceiver

KEY = "2026-11-22-10:00"
LATER_KEY = "2026-11-22-11:00"
GAUGES = ("metering_last_success_timestamp_seconds", "metering_hour_duration_seconds", "metering_last_complete_hour_timestamp_seconds")


@pytest.fixture
def gateway(tmp_path):
    process = PushgatewayProcess(tmp_path)
    yield process
    process.stop()


def _by_label(samples: dict, name: str, label: str) -> dict[str, float]:
    return {dict(labels)[label]: value for (n, labels), value in samples.items() if n == name}


def _one(samples: dict, name: str, **labels) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def _materialization_metadata(env: dict, asset: str) -> dict:
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        [record] = instance.get_run_records(limit=1)
        [entry] = [
            e
            for e in instance.all_logs(record.dagster_run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
            if e.asset_materialization.asset_key.to_user_string() == asset
        ]
        return {k: v.value for k, v in entry.asset_materialization.metadata.items()}


def _by_labels(samples: dict, name: str) -> dict[tuple[str, ...], float]:
    """{label values in label-name order: value} of one metric."""
    return {tuple(v for _, v in labels): value for (n, labels), value in samples.items() if n == name}


def _per_source(client, sql: str) -> dict:
    return {tuple(row[:-1]): row[-1] for row in client.query(sql).result_rows}


FIXTURE_SOURCES = {"envoy-gateway": "envoy", "billing-client": "billing_client", "data-api": "data_api"}
EVENTS_BY_LANDING_SOURCE = (
    "SELECT l.landing_source, e.type, count() FROM events AS e JOIN landed_files AS l USING (source_file) GROUP BY l.landing_source, e.type"
)


@pytest.mark.slow
def test_cli_hour_pushes_the_figures_of_its_materializations(tmp_path, gateway):
    """Four landing sources in one hour: every line counter carries its source, and per source as in total
    lines read = accepted + duplicates + quarantined, as the materialization and the tables say."""
    landing = tmp_path / "landing"
    write_sample_hour(landing, hour_start(KEY), events=50)
    for source, folder in FIXTURE_SOURCES.items():
        land_fixture(landing, source, folder)
    catalog = str(write_catalog(tmp_path / "catalog.yaml"))  # attribution for the fixtures' routes and instances
    env = materialize_hour(tmp_path, landing, KEY, timeout=900, METERING_PUSHGATEWAY_URL=gateway.url, METERING_CATALOG=catalog)
    samples = gateway.samples()
    ingest = _materialization_metadata(env, "accepted_events")
    export = _materialization_metadata(env, "billing_export")
    by_source = ingest["by_source"]

    assert set(by_source) == {"events", *FIXTURE_SOURCES}
    read = _by_labels(samples, "metering_lines_read_total")
    lines = _by_labels(samples, "metering_lines_total")  # (outcome, source)
    assert read == {(s,): f["lines_read"] for s, f in by_source.items()} and sum(read.values()) == ingest["lines_read"]
    for source, figures in by_source.items():
        outcomes = {o: lines[(o, source)] for o in LINE_OUTCOMES}
        assert outcomes == {o: figures[key] for o, key in LINE_OUTCOMES.items()}
        assert read[(source,)] == sum(outcomes.values()), source  # each source reconciles
    for outcome, key in LINE_OUTCOMES.items():
        assert sum(v for (o, _), v in lines.items() if o == outcome) == ingest[key]  # and the sources add up to the hour
    assert all(lines[(o, s)] > 0 for o, s in (("accepted", "envoy-gateway"), ("quarantined", "billing-client"), ("duplicate", "events")))
    reasons = _by_labels(samples, "metering_quarantined_lines_total")  # (reason, source)
    assert set(reasons) == {(r, s) for r in QUARANTINE_REASONS for s in by_source}
    assert {r: sum(v for (reason, _), v in reasons.items() if reason == r) for r in QUARANTINE_REASONS} == {
        r: ingest[f"quarantined_{r}"] for r in QUARANTINE_REASONS
    }
    assert _one(samples, "metering_export_objects_total") == export["objects"] > 0
    assert _one(samples, "metering_export_bytes_total") == export["bytes"]
    assert _one(samples, "metering_export_records_total", kind="usage") == export["records"]
    assert _one(samples, "metering_export_revisions_total", kind="usage") == 1
    assert _one(samples, "metering_export_revisions_total", kind="correction") == 0
    assert _one(samples, "metering_last_complete_hour_timestamp_seconds") == hour_start(KEY).timestamp()
    assert {dict(labels)["asset"] for (n, labels) in samples if n == "metering_last_success_timestamp_seconds"} == {
        "accepted_events",
        "usage_hourly",
        "usage_alerts",
        "billing_export",
    }

    with ClickHouseResource(url=env["METERING_CLICKHOUSE_URL"]).get_client() as client:
        usage = {
            (meter, unit): value
            for meter, unit, value in client.query("SELECT meter, any(unit), sum(value) FROM usage_hourly GROUP BY meter").result_rows
        }
        landed = _per_source(client, "SELECT landing_source, sum(lines_read) FROM landed_files GROUP BY landing_source")
        quarantined = _per_source(client, "SELECT reason, landing_source, count() FROM quarantine GROUP BY reason, landing_source")
        events = _per_source(client, EVENTS_BY_LANDING_SOURCE)
        history = client.query(f"SELECT asset, outcome, hours FROM {PIPELINE_RUNS} ORDER BY asset").result_rows
    quantities = _by_labels(samples, "metering_quantity_total")
    assert usage and quantities == {key: float(value) for key, value in usage.items()}
    assert read == landed  # the census of the files read, per landing source
    assert {k: v for k, v in reasons.items() if v} == quarantined
    assert {(s, t): v for (t, s), v in _by_labels(samples, "metering_events_total").items()} == events
    assert {s for s, _ in events} == {"events", *FIXTURE_SOURCES}
    assert history == [(a, "success", 1) for a in ("accepted_events", "billing_export", "usage_alerts", "usage_hourly")]


def _resources(tmp_path, clickhouse, landing, gateway_url: str, timeout: float = 3.0, **alerting: str) -> dict:
    return {
        **resources(clickhouse, landing, **alerting),
        "export_store": ExportStore(url=str(tmp_path / "export")),
        "pushgateway": Pushgateway(url=gateway_url, timeout_seconds=timeout),
    }


ALL = (*PIPELINE, billing_export, pipeline_runs)


@pytest.mark.slow
def test_rerun_adds_to_counters_and_replaces_gauges_and_a_correction_is_counted(tmp_path, clickhouse, landing, landing_dir, gateway):
    for key in (KEY, LATER_KEY):
        write_sample_hour(landing_dir, hour_start(key), events=20)
    quotas = write_quotas(
        tmp_path / "quotas.yaml", [{"tenant": t, "meter": "gateway_requests", "quota": 4, "thresholds": [50, 100]} for t in TENANTS]
    )
    with WebhookReceiver() as hook:
        res = _resources(tmp_path, clickhouse, landing, gateway.url, quotas=quotas, webhook_url=hook.url)
        result = materialize(res, [KEY, LATER_KEY], assets=ALL)  # a single-run backfill: each step covers two hours
        first = gateway.samples()
        delivered = len(hook.bodies)
    alerts = next(m for m in result.get_asset_materialization_events() if m.asset_key.to_user_string() == "usage_alerts")
    fired = _by_label(first, "metering_usage_alerts_total", "threshold")
    with clickhouse.get_client() as client:
        stored = {str(t): n for t, n in client.query("SELECT threshold, count() FROM usage_alerts FINAL GROUP BY threshold").result_rows}
    assert fired == stored and sum(fired.values()) == alerts.materialization.metadata["fired"].value > 0
    assert _one(first, "metering_alert_deliveries_total", outcome="delivered") == delivered == sum(fired.values())
    assert _one(first, "metering_usage_alerts_pending") == 0
    materialize(res, [LATER_KEY], assets=ALL)  # the same hour again, nothing changed
    second = gateway.samples()

    assert second[("metering_ingest_files_total", ())] > first[("metering_ingest_files_total", ())] > 0
    read = ("metering_lines_read_total", (("source", "events"),))
    assert second[read] > first[read] > 0  # a rerun reads its hour again: work is counted
    assert 0 < second[read] - first[read] < first[read]  # one hour of the two, not the whole history again
    for key, value in first.items():
        if key[0] in ("metering_quantity_total", "metering_export_revisions_total", "metering_export_records_total"):
            assert second[key] == value, key  # nothing new was billed
    assert _one(second, "metering_last_complete_hour_timestamp_seconds") == hour_start(LATER_KEY).timestamp()
    for name in GAUGES:
        assert [k for k in first if k[0] == name] == [k for k in second if k[0] == name]  # replaced, one series each
    assert _one(second, "metering_last_success_timestamp_seconds", asset="billing_export") >= _one(
        first, "metering_last_success_timestamp_seconds", asset="billing_export"
    )

    late = [json.dumps(sample_event(random.Random("late"), hour_start(LATER_KEY), 900_000 + i)) for i in range(5)]
    (landing_dir / hour_prefix("events", hour_start(LATER_KEY)) / "late.ndjson").write_text("\n".join(late) + "\n")  # usage changes
    materialize(res, [LATER_KEY], assets=ALL)
    third = gateway.samples()
    assert _one(third, "metering_export_revisions_total", kind="correction") == 1
    assert _one(third, "metering_last_export_revision") == 1
    with clickhouse.get_client() as client:
        usage = {(m, u): v for m, u, v in client.query("SELECT meter, any(unit), sum(value) FROM usage_hourly GROUP BY meter").result_rows}
        runs = client.command(f"SELECT count() FROM {PIPELINE_RUNS}")
    quantities = {tuple(v for _, v in labels): value for (n, labels), value in third.items() if n == "metering_quantity_total"}
    assert quantities == {k: float(v) for k, v in usage.items()}  # the correction's deltas bring the total to current usage
    assert runs == 12  # three runs x four observed steps


def _run_with(tmp_path, clickhouse, landing, landing_dir, url: str) -> None:
    """One hour through ingest and the observer with a gateway at `url` that fails: green, one warning, history kept."""
    write_sample_hour(landing_dir, hour_start(KEY), events=10)
    with dg.DagsterInstance.ephemeral() as instance:
        res = _resources(tmp_path, clickhouse, landing, url, timeout=1.0)
        result = materialize(res, [KEY], instance=instance, assets=(PIPELINE[0], pipeline_runs))
        warnings = [
            e.user_message for e in instance.all_logs(result.run_id) if e.level == logging.WARNING and "pushgateway" in e.user_message
        ]
    [materialization] = [m for m in result.get_asset_materialization_events() if m.asset_key.to_user_string() == PIPELINE_RUNS]
    metadata = materialization.materialization.metadata
    assert metadata["pushgateway_configured"].value is True and metadata["pushed"].value is False
    assert len(warnings) == 1 and "push failed" in warnings[0]
    with clickhouse.get_client() as client:
        assert client.command(f"SELECT count() FROM {PIPELINE_RUNS}") == 1  # the history is written all the same


def test_a_gateway_refusing_connections_leaves_the_hour_green(tmp_path, clickhouse, landing, landing_dir):
    _run_with(tmp_path, clickhouse, landing, landing_dir, f"http://127.0.0.1:{free_port()}")


def test_a_gateway_that_never_answers_leaves_the_hour_green(tmp_path, clickhouse, landing, landing_dir):
    silent = SilentGateway()
    try:
        _run_with(tmp_path, clickhouse, landing, landing_dir, silent.url)
        assert silent.accepted >= 1  # the push reached it and gave up at its timeout
    finally:
        silent.close()


def test_no_gateway_configured_pushes_nothing(tmp_path, clickhouse, landing, landing_dir):
    write_sample_hour(landing_dir, hour_start(KEY), events=10)
    result = materialize(_resources(tmp_path, clickhouse, landing, ""), [KEY], assets=(PIPELINE[0], pipeline_runs))
    [m] = [m for m in result.get_asset_materialization_events() if m.asset_key.to_user_string() == PIPELINE_RUNS]
    assert m.materialization.metadata["pushed"].value is False and m.materialization.metadata["pushgateway_configured"].value is False


@dg.asset_check(asset="accepted_events", description="a check of its own step, as the freshness checks are")
def separate_failing_check() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR)


def test_outcome_counts_the_steps_own_checks_only(tmp_path, clickhouse, landing, landing_dir):
    """A check judged in another step (freshness, on the wall clock) does not make the ingest step's outcome."""
    write_sample_hour(landing_dir, hour_start(KEY), events=10)
    res = _resources(tmp_path, clickhouse, landing, "")
    result = dg.materialize([PIPELINE[0], pipeline_runs, separate_failing_check], partition_key=KEY, resources=res)
    assert result.success and not next(e for e in result.get_asset_check_evaluations() if e.check_name == "separate_failing_check").passed
    with clickhouse.get_client() as client:
        assert client.query(f"SELECT asset, outcome, failed_checks FROM {PIPELINE_RUNS}").result_rows == [
            ("accepted_events", "success", [])
        ]
