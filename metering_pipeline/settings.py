"""Configuration from the environment, resolved by Dagster at launch (dg.EnvVar), with embedded defaults.

Only the *presence* of a variable is looked at when definitions load; its value, which may
hold credentials, is resolved by Dagster when a run starts and never shown in the UI.

The defaults live under one state directory (STATE_DIR), never inside the package: an
installed package may sit in a read-only site-packages, and a wheel reinstall would wipe it.
- $METERING_HOME when set (a deployment names its state directory once);
- else `<checkout>/.metering` when the package runs from a source checkout (what `make demo`
  and `make test` have always used, whatever the current directory);
- else `.metering/` of the current directory when the process starts, like a tool's
  project-local state (an installed package has no checkout to anchor it to).
Each METERING_* URL below still overrides its own default.
"""

import os
from pathlib import Path

import dagster as dg

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT_ROOT = PACKAGE_DIR.parent if (PACKAGE_DIR.parent / "pyproject.toml").is_file() else None
"""The source checkout holding this package, or None for an installed package (site-packages has no pyproject.toml)."""


def state_dir() -> Path:
    home = os.environ.get("METERING_HOME")
    if home:
        return Path(home).expanduser().resolve()
    if CHECKOUT_ROOT is not None:
        return CHECKOUT_ROOT / ".metering"
    return Path.cwd().resolve() / ".metering"


STATE_DIR = state_dir()
DBT_ARTIFACTS_DIR = STATE_DIR / "dbt"
"""Where dbt writes its run artifacts and logs (target path): the dbt project in the package stays read-only."""

DEFAULTS = {
    "METERING_CLICKHOUSE_URL": f"chdb://{STATE_DIR / 'clickhouse'}",
    "METERING_LANDING_URL": str(STATE_DIR / "landing"),
    "METERING_EXPORT_URL": str(STATE_DIR / "export"),
    "METERING_CATALOG": "",
    "METERING_DATABASE": "metering",
    "METERING_INGEST_READER": "engine",
    "METERING_CLICKHOUSE_CLUSTER": "",
    "METERING_CLICKHOUSE_S3_COLLECTION": "",
    "METERING_EXPORT_GRAIN": "hour",
}


def setting(name: str) -> str:
    """A dg.EnvVar when the variable is set, else the embedded default."""
    return dg.EnvVar(name) if name in os.environ else DEFAULTS[name]


def resolved(name: str) -> str:
    """The value itself, for code outside Dagster runs (demo, CLI)."""
    return os.environ.get(name) or DEFAULTS[name]
