"""The documented command line, run as a user runs it: `dagster asset materialize` on the code location."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

# Checks that fail by design on a fixture hour: the producers' deliberately broken lines fail their
# reason's WARN check (expect_<reason>), the Envoy fixtures reuse an id for another quantity on purpose
# (`req-1`, bytes_sent 999: counted once; no_conflicting_duplicates warns), and an hour of 2026-11-22
# is not "the last complete hour" today.
EXPECTED_FAILURES = ("expect_", "no_conflicting_duplicates", "last_complete_hour_fresh")


def materialize_hour(
    tmp_path: Path, landing: Path, key: str, clickhouse_url: str | None = None, timeout: int = 900, **settings: str
) -> dict:
    """Materialize every asset for `key` through the CLI with the embedded defaults under tmp_path (plus
    `settings`, e.g. METERING_CATALOG); the environment it ran with."""
    env = {
        **os.environ,
        **settings,
        "METERING_CLICKHOUSE_URL": clickhouse_url or f"chdb://{tmp_path / 'ch'}",
        "METERING_LANDING_URL": str(landing),
        "METERING_EXPORT_URL": str(tmp_path / "export"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }
    Path(env["DAGSTER_HOME"]).mkdir()
    dagster = Path(sys.executable).with_name("dagster")
    completed = subprocess.run(
        [str(dagster), "asset", "materialize", "-m", "metering_pipeline.definitions", "--select", "*", "--partition", key],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return env


def last_run_events(env: dict, event_type: dg.DagsterEventType) -> list:
    """The `event_type` entries of the last run in the instance the CLI used."""
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        [record] = instance.get_run_records(limit=1)
        return list(instance.all_logs(record.dagster_run.run_id, of_type=event_type))


def check_outcomes(env: dict) -> dict[tuple[str, str], bool]:
    """{(asset, check): passed} of the last run in the instance the CLI used."""
    evaluations = [e.dagster_event.event_specific_data for e in last_run_events(env, dg.DagsterEventType.ASSET_CHECK_EVALUATION)]
    return {(e.asset_key.to_user_string(), e.check_name): e.passed for e in evaluations}


def step_processes(env: dict) -> dict[str, int]:
    """{step: the process it ran in} of the last run in the instance the CLI used."""
    return {e.step_key: e.dagster_event.pid for e in last_run_events(env, dg.DagsterEventType.STEP_START)}


def unexpected_failures(outcomes: dict[tuple[str, str], bool]) -> list[tuple[str, str]]:
    return sorted(k for k, passed in outcomes.items() if not passed and not k[1].startswith(EXPECTED_FAILURES))
