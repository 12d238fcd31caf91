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


def check_outcomes(env: dict) -> dict[tuple[str, str], bool]:
    """{(asset, check): passed} of the last run in the instance the CLI used."""
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        [record] = instance.get_run_records(limit=1)
        outcomes = {}
        for entry in instance.all_logs(record.dagster_run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = entry.dagster_event.event_specific_data
            outcomes[(evaluation.asset_key.to_user_string(), evaluation.check_name)] = evaluation.passed
    return outcomes


def step_processes(env: dict) -> dict[str, int]:
    """{step: the process it ran in} of the last run in the instance the CLI used."""
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        [record] = instance.get_run_records(limit=1)
        starts = instance.all_logs(record.dagster_run.run_id, of_type=dg.DagsterEventType.STEP_START)
        return {entry.step_key: entry.dagster_event.pid for entry in starts}


def unexpected_failures(outcomes: dict[tuple[str, str], bool]) -> list[tuple[str, str]]:
    return sorted(k for k, passed in outcomes.items() if not passed and not k[1].startswith(EXPECTED_FAILURES))
