"""Configuration from the environment, resolved by Dagster at launch (dg.EnvVar), with embedded defaults.

Only the *presence* of a variable is looked at when definitions load; its value, which may
hold credentials, is resolved by Dagster when a run starts and never shown in the UI.
"""

import os
from pathlib import Path

import dagster as dg

REPO_ROOT = Path(__file__).resolve().parents[1]
STATE_DIR = REPO_ROOT / ".metering"

DEFAULTS = {
    "METERING_CLICKHOUSE_URL": f"chdb://{STATE_DIR / 'clickhouse'}",
    "METERING_LANDING_URL": str(STATE_DIR / "landing"),
    "METERING_EXPORT_URL": str(STATE_DIR / "export"),
    "METERING_CATALOG": "",
    "METERING_DATABASE": "metering",
}


def setting(name: str) -> str:
    """A dg.EnvVar when the variable is set, else the embedded default."""
    return dg.EnvVar(name) if name in os.environ else DEFAULTS[name]


def resolved(name: str) -> str:
    """The value itself, for code outside Dagster runs (demo, CLI)."""
    return os.environ.get(name) or DEFAULTS[name]
