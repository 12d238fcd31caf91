"""The documented command line, run as a user runs it: `dagster asset materialize` on the code location."""

import os
import subprocess
import sys
from pathlib import Path


def materialize_hour(tmp_path: Path, landing: Path, key: str, clickhouse_url: str | None = None, timeout: int = 900) -> dict:
    """Materialize every asset for `key` through the CLI with the embedded defaults under tmp_path; the env used."""
    env = {
        **os.environ,
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
