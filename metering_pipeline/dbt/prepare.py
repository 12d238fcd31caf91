"""`python -m metering_pipeline.dbt.prepare`: write dbt_project/target/manifest.json (dbt parse).

Run once on a fresh clone and whenever dbt_project changes (the Makefile does it before
tests and the demo); `dagster dev` re-parses on its own. `--if-stale` skips the parse
when the manifest is newer than every project file.
"""

import sys
from pathlib import Path

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"


def prepare_manifest() -> Path:
    from metering_pipeline.dbt.resources import clickhouse_url_from_env, database_from_env, dbt_resource

    resource = dbt_resource(clickhouse_url_from_env(), database_from_env())
    resource.cli(["parse", "--quiet"], target_path=Path("target")).wait()
    if not MANIFEST_PATH.exists():
        raise RuntimeError(f"dbt parse did not write {MANIFEST_PATH}")
    return MANIFEST_PATH


def manifest_is_current() -> bool:
    """The manifest exists and no project file (yml, sql) changed after it was written."""
    if not MANIFEST_PATH.exists():
        return False
    written = MANIFEST_PATH.stat().st_mtime
    sources = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in ("models", "macros", "tests"):
        sources.extend(p for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.suffix in (".sql", ".yml"))
    return all(p.stat().st_mtime <= written for p in sources)


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
