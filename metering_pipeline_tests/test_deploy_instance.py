"""deploy/dagster/dagster.yaml, loaded by Dagster itself against a real Postgres: the production instance is valid.

Debian's PostgreSQL server (package postgresql; `.ci/run` installs it) is started on a loopback
port from a fresh data directory, as the `postgres` user (the server refuses to run as root).
The instance is then loaded from the example as a deployment would load it, its storage
creates its schema in that database, and the test checks what the file configures: Postgres
run storage, the Docker run launcher passing the pipeline's settings by name, the run queue and
the pool limit the multi-run backfills rely on. Docker itself is not contacted (the launcher
connects only when it launches a run).
"""

import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from metering_pipeline.settings import CHECKOUT_ROOT

pytestmark = pytest.mark.slow
EXAMPLE = CHECKOUT_ROOT / "deploy" / "dagster" / "dagster.yaml"
POSTGRES_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(*command: str, **kwargs) -> subprocess.CompletedProcess:
    prefix = ["runuser", "-u", "postgres", "--"] if getpass.getuser() == "root" else []
    return subprocess.run([*prefix, *command], check=True, capture_output=True, text=True, **kwargs)


@pytest.fixture
def postgres():
    if not POSTGRES_BIN:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("no PostgreSQL server under /usr/lib/postgresql: .ci/run installs Debian's postgresql")
        pytest.skip("no PostgreSQL server installed (Debian package postgresql)")
    bin_dir = POSTGRES_BIN[-1]
    # Outside pytest's tmp_path, whose parents only root may enter: the server runs as `postgres`.
    root = Path(tempfile.mkdtemp(prefix="metering-pg-"))
    data, sockets = root / "pg", root / "pg-sockets"
    sockets.mkdir()
    if getpass.getuser() == "root":
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    _as_postgres(str(bin_dir / "initdb"), "-D", str(data), "-U", "dagster", "--auth=trust")
    port = _free_port()
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sockets}"
    _as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "pg.log"), "-w", "start", timeout=60)
    try:
        for _ in range(50):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"postgresql+psycopg2://dagster@127.0.0.1:{port}/postgres"  # SQLAlchemy 2.1 defaults to psycopg 3
    finally:
        _as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop", timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def test_the_production_instance_loads_against_postgres(tmp_path, postgres, monkeypatch):
    home = tmp_path / "dagster-home"
    home.mkdir()
    shutil.copy(EXAMPLE, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", postgres)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert instance.get_runs() == []  # the schema exists in the database: it really connected
        launcher = instance.run_launcher
        assert type(launcher).__name__ == "DockerRunLauncher"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 4
    settings = set(yaml.safe_load(EXAMPLE.read_text())["run_launcher"]["config"]["env_vars"])
    for needed in ("METERING_CLICKHOUSE_URL", "METERING_LANDING_URL", "METERING_EXPORT_URL", "METERING_BACKFILL_HOURS_PER_RUN"):
        assert needed in settings


def test_a_broken_instance_file_is_refused(tmp_path, postgres, monkeypatch):
    """The check above can fail: Dagster validates the file's schema when it loads it."""
    home = tmp_path / "broken"
    home.mkdir()
    config = yaml.safe_load(EXAMPLE.read_text())
    config["concurrency"]["runs"]["max_concurrent_runz"] = config["concurrency"]["runs"].pop("max_concurrent_runs")
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", postgres)
    with pytest.raises(dg.DagsterInvalidConfigError, match="max_concurrent_runz"):
        dg.DagsterInstance.from_config(str(home))
