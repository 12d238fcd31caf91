"""`python -m metering_pipeline.dbt.prepare`: write metering_pipeline/dbt/project/target/manifest.json (dbt parse).

Run once on a fresh clone and whenever the dbt project changes (the Makefile does it before
tests, the demo and `make dist`); `dagster dev` on a checkout re-parses on its own.
`--if-stale` skips the parse when the manifest is newer than every project file.

The manifest is a build artifact: the wheel ships the one written here (the build refuses a
missing or stale one), so an installed package never runs `dbt parse`, never needs a
writable project directory, and serves exactly the manifest of the SQL it ships.
"""

import sys
from pathlib import Path

from metering_pipeline.dbt.paths import DBT_PROJECT_DIR, MANIFEST_PATH, manifest_is_current

__all__ = ["DBT_PROJECT_DIR", "MANIFEST_PATH", "ensure_manifest", "main", "manifest_is_current", "prepare_manifest"]


def prepare_manifest() -> Path:
    # Imported here, not at the top: `--if-stale` on a current manifest must not pay for Dagster.
    from metering_pipeline.dbt.resources import clickhouse_url_from_env, database_from_env, dbt_resource

    resource = dbt_resource(clickhouse_url_from_env(), database_from_env())
    # A relative target path: the parse writes into the project (target/), not the run artifacts' directory.
    resource.cli(["parse", "--quiet"], target_path=Path("target")).wait()
    if not MANIFEST_PATH.exists():
        raise RuntimeError(f"dbt parse did not write {MANIFEST_PATH}")
    return MANIFEST_PATH


def ensure_manifest() -> Path:
    """Parse only when the manifest is missing or older than the project (cheap to call before tests)."""
    return MANIFEST_PATH if manifest_is_current() else prepare_manifest()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = ensure_manifest() if "--if-stale" in argv else prepare_manifest()
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
