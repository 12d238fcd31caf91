"""Where the dbt project, its manifest and the `chdb` adapter plugin live: inside this package.

The dbt project ships as package data (metering_pipeline/dbt/project/), so a checkout, an
editable install and an installed wheel all find it next to this file; nothing is resolved
from a checkout. Its manifest (project/target/manifest.json) is written by
`python -m metering_pipeline.dbt.prepare` on a checkout and shipped in the wheel as built:
an installed package never parses (see prepare.py).

Standard library only: the build backend (build_backend/metering_build_backend.py) loads
this file by path to refuse a wheel without a current manifest, in an isolated build
environment that has neither Dagster nor dbt.
"""

from pathlib import Path

DBT_DIR = Path(__file__).resolve().parent
DBT_PROJECT_DIR = DBT_DIR / "project"
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
ADAPTER_PATH = DBT_DIR / "adapter"
"""The folder holding `dbt/adapters/chdb/`: goes on PYTHONPATH of the dbt subprocess (dbt.adapters is a namespace)."""

SOURCE_FOLDERS = ("models", "macros", "tests")


def project_sources() -> list[Path]:
    """The files a parse reads: dbt_project.yml, profiles.yml and every .sql / .yml of models, macros, tests."""
    sources = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in SOURCE_FOLDERS:
        sources.extend(sorted(p for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.suffix in (".sql", ".yml")))
    return sources


def stale_sources() -> list[Path]:
    """Project files changed after the manifest was written (all of them when there is no manifest)."""
    if not MANIFEST_PATH.exists():
        return project_sources()
    written = MANIFEST_PATH.stat().st_mtime
    return [p for p in project_sources() if p.stat().st_mtime > written]


def manifest_is_current() -> bool:
    """The manifest exists and no project file (yml, sql) changed after it was written."""
    return MANIFEST_PATH.exists() and not stale_sources()
