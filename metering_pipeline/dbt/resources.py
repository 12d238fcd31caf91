"""The dbt CLI resource: one profile, the environment the dbt subprocess needs, the adapter plugin.

The dbt subprocess gets METERING_CLICKHOUSE_URL / METERING_DATABASE (profiles.yml picks
the `chdb` or `clickhouse` target from the URL), the decoded server password, and the
folder of the `chdb` adapter plugin on PYTHONPATH. dagster-dbt builds the subprocess
environment from os.environ, so `cli()` sets those variables around the spawn only.

The project directory is only read at run time: each dbt invocation writes its artifacts
and logs under DBT_ARTIFACTS_DIR (the state directory, settings.py), so the project can sit
in a read-only site-packages. Only `python -m metering_pipeline.dbt.prepare` (a checkout)
writes the manifest into the project.
"""

import importlib.metadata
import os
import sys
import threading
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dagster as dg
from dagster_dbt import DbtCliResource
from packaging import version
from pydantic import Field

from metering_pipeline.dbt.paths import ADAPTER_PATH, DBT_PROJECT_DIR
from metering_pipeline.resources.clickhouse import embedded_path
from metering_pipeline.settings import DBT_ARTIFACTS_DIR, resolved

__all__ = [
    "ADAPTER_PATH",
    "DBT_ARTIFACTS_DIR",
    "DBT_PROJECT_DIR",
    "DBT_RESOURCE_KEY",
    "MeteringDbtCliResource",
    "clickhouse_url_from_env",
    "database_from_env",
    "dbt_env",
    "dbt_resource",
    "ensure_adapter_importable",
    "patched_environ",
]
DBT_RESOURCE_KEY = "dbt"

_environ_lock = threading.RLock()


def _dbt_executable() -> str:
    beside_python = Path(sys.executable).with_name("dbt")
    return str(beside_python) if beside_python.exists() else "dbt"


def clickhouse_url_from_env() -> str:
    return resolved("METERING_CLICKHOUSE_URL")


def database_from_env() -> str:
    return resolved("METERING_DATABASE")


def dbt_env(clickhouse_url: str, database: str) -> dict[str, str]:
    """Variables the dbt subprocess needs on top of the current environment."""
    embedded_path(clickhouse_url)  # refuses unknown schemes before dbt sees them
    pythonpath = [str(ADAPTER_PATH), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {
        "METERING_CLICKHOUSE_URL": clickhouse_url,
        "METERING_DATABASE": database,
        "PYTHONPATH": os.pathsep.join(dict.fromkeys(pythonpath)),
    }
    password = urlsplit(clickhouse_url).password
    if password:
        env["METERING_CLICKHOUSE_PASSWORD"] = unquote(password)
    return env


def ensure_adapter_importable() -> None:
    """Make `dbt.adapters.chdb` importable in this process too (dagster-dbt builds an adapter handle)."""
    plugin_root = str(ADAPTER_PATH)
    if plugin_root not in sys.path:
        sys.path.append(plugin_root)
    import dbt.adapters

    adapters_dir = str(ADAPTER_PATH / "dbt" / "adapters")
    if adapters_dir not in dbt.adapters.__path__:
        dbt.adapters.__path__.append(adapters_dir)


@contextmanager
def patched_environ(env: dict[str, str]):
    with _environ_lock:
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


class MeteringDbtCliResource(DbtCliResource):
    """DbtCliResource that points dbt at the pipeline's ClickHouse (embedded or server)."""

    clickhouse_url: str = Field(description="chdb:///abs/dir or http(s)://user:pass@host:port")
    database: str = Field(default="metering", description="Database of the pipeline's source tables")

    def subprocess_env(self) -> dict[str, str]:
        """dbt_env plus DBT_TARGET_PATH: dagster-dbt reads it from os.environ to place each run's
        unique target folder (artifacts and logs), here under the state directory, not the project."""
        return {**dbt_env(self.clickhouse_url, self.database), "DBT_TARGET_PATH": os.fspath(DBT_ARTIFACTS_DIR)}

    def cli(self, args, **kwargs):
        with patched_environ(self.subprocess_env()):
            return super().cli(args, **kwargs)

    # Two dagster-dbt internals, overridden on purpose:
    # - dagster-dbt builds a dbt adapter inside the Dagster process, only to fetch column
    #   metadata / row counts on request. On chDB that would open the directory from the
    #   Dagster process next to the dbt subprocess; we never use those fetches, so no adapter.
    # - it runs `dbt --version` (2-4 s) before every command to pick dbt Core vs Fusion;
    #   the dbt beside this interpreter is dbt Core from this environment.
    def _initialize_dbt_core_adapter(self, args):
        return None

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable) == Path(sys.executable).with_name("dbt"):
            return version.parse(importlib.metadata.version("dbt-core"))
        return super()._cli_version


def dbt_resource(clickhouse_url: "str | dg.EnvVar", database: "str | dg.EnvVar" = "metering") -> MeteringDbtCliResource:
    """The resource to bind under DBT_RESOURCE_KEY ("dbt"); takes the same values (or dg.EnvVar) as ClickHouseResource."""
    return MeteringDbtCliResource(
        project_dir=os.fspath(DBT_PROJECT_DIR),
        profiles_dir=os.fspath(DBT_PROJECT_DIR),
        dbt_executable=_dbt_executable(),
        clickhouse_url=clickhouse_url,
        database=database,
    )
