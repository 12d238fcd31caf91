"""The wheel is the deployment: installed outside the checkout, it materializes an hour, dbt marts included.

Built from this checkout (sdist, then the wheel from the sdist, as `make dist` does, so both
are exercised), installed into a fresh virtualenv under tmp, and run with
`dagster asset materialize -m metering_pipeline.definitions` from an empty directory. Any
path still resolved from the checkout, any package data left out of the wheel (catalog,
quotas, the dbt project and its manifest, the chdb adapter plugin) fails the run here.

Dependencies come from uv's cache, pinned to what this environment has (`uv pip freeze`
as constraints, `--offline`): `make install` filled that cache, and uv links the files
instead of downloading (well under a second against minutes from the index). When the
cache lacks something, the install retries online with the same pins.
"""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from metering_pipeline.dbt.paths import DBT_DIR, project_sources
from metering_pipeline.dbt.prepare import ensure_manifest
from metering_pipeline.partitions import hour_start
from metering_pipeline.samples import write_sample_hour

REPO = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).with_name("uv")
KEY = "2026-11-22-10:00"
MARTS = {"usage_daily", "usage_monthly", "usage_by_service", "quarantine_summary", "tenant_usage_summary"}
DATA_FILES = {
    "metering_pipeline/catalog/default.yaml",
    "metering_pipeline/alerts/quotas.example.yaml",
    "metering_pipeline/ingest/__init__.py",
    "metering_pipeline/dbt/project/target/manifest.json",
    "metering_pipeline/dbt/adapter/dbt/adapters/chdb/__init__.py",
    "metering_pipeline/dbt/adapter/dbt/adapters/chdb/__version__.py",
    "metering_pipeline/dbt/adapter/dbt/include/chdb/dbt_project.yml",
    "metering_pipeline/dbt/adapter/dbt/include/chdb/macros/chdb.sql",
}

_QUERY = """
import json, sys
import clickhouse_connect
client = clickhouse_connect.get_client(interface="chdb", path=sys.argv[1])
marts = client.query("SELECT name FROM system.tables WHERE database = 'metering_analytics'").result_rows
print(json.dumps({
    "usage": int(client.command("SELECT sum(event_count) FROM metering.usage_hourly WHERE meter = 'gateway_requests'")),
    "quarantine": int(client.command("SELECT count() FROM metering.quarantine")),
    "marts": sorted(row[0] for row in marts),
    "daily_rows": int(client.command("SELECT count() FROM metering_analytics.usage_daily")),
}))
client.close()
"""


def _run(args, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("timeout", 600)
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """sdist and wheel in a tmp folder; the build refuses a stale manifest, so prepare first (make test does too)."""
    ensure_manifest()
    out = tmp_path_factory.mktemp("dist")
    built = _run([UV, "build", "--offline", "--out-dir", out, REPO], timeout=300)
    if built.returncode != 0:  # setuptools not in uv's cache: fetch it
        built = _run([UV, "build", "--out-dir", out, REPO], timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def wheel(dist) -> Path:
    (found,) = dist.glob("metering_pipeline-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtualenv outside the repository with the wheel and its dependencies."""
    root = tmp_path_factory.mktemp("deploy")
    venv = root / "venv"
    created = _run([UV, "venv", "--quiet", "--python", sys.executable, venv])
    assert created.returncode == 0, created.stderr
    frozen = _run([UV, "pip", "freeze", "--python", sys.executable, "--exclude-editable"])
    assert frozen.returncode == 0, frozen.stderr
    constraints = root / "constraints.txt"
    constraints.write_text(frozen.stdout)
    install = [UV, "pip", "install", "--quiet", "--python", venv / "bin" / "python", "-c", constraints, wheel]
    done = _run([*install, "--offline"])
    if done.returncode != 0:  # a dependency missing from uv's cache: same pins, from the index
        done = _run(install, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    return venv


def _site_package(venv: Path) -> Path:
    (package,) = venv.glob("lib/python3.*/site-packages/metering_pipeline")
    return package


def test_wheel_holds_exactly_the_runtime_package_and_its_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {name.split("/")[0] for name in names} == {"metering_pipeline", wheel.name.split("-py3")[0] + ".dist-info"}
    assert not [name for name in names if "metering_pipeline_tests" in name or "__pycache__" in name]
    assert DATA_FILES <= names, sorted(DATA_FILES - names)
    shipped_project = {f"metering_pipeline/dbt/{p.relative_to(DBT_DIR)}" for p in project_sources()}
    assert shipped_project <= names, sorted(shipped_project - names)
    # Of the checkout's dbt target/ (run artifacts, partial parse), only the manifest ships.
    assert [n for n in names if "/dbt/project/target/" in n] == ["metering_pipeline/dbt/project/target/manifest.json"]


def test_sdist_builds_the_same_package(dist):
    import tarfile

    (sdist,) = dist.glob("metering_pipeline-*.tar.gz")
    names = tarfile.open(sdist).getnames()
    assert not [n for n in names if "metering_pipeline_tests" in n]
    assert any(n.endswith("build_backend/metering_build_backend.py") for n in names)
    assert any(n.endswith("metering_pipeline/dbt/project/target/manifest.json") for n in names)


@pytest.mark.slow
def test_installed_wheel_materializes_an_hour_from_an_empty_directory(venv, tmp_path):
    package = _site_package(venv)
    before = _snapshot(package)
    landing = tmp_path / "landing"
    write_sample_hour(landing, hour_start(KEY), events=50)
    workdir = tmp_path / "empty"
    workdir.mkdir()
    (tmp_path / "dagster_home").mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("METERING_", "DBT_", "DAGSTER_")) and key not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env.update(
        PATH=os.pathsep.join([str(venv / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
        # Python's own bytecode cache aside, so that the snapshot below sees only what the pipeline writes.
        PYTHONDONTWRITEBYTECODE="1",
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
        GX_ANALYTICS_ENABLED="false",
        METERING_CLICKHOUSE_URL=f"chdb://{tmp_path / 'ch'}",
        METERING_LANDING_URL=str(landing),
        METERING_EXPORT_URL=str(tmp_path / "export"),
    )
    completed = _run(
        [venv / "bin" / "dagster", "asset", "materialize", "-m", "metering_pipeline.definitions", "--select", "*", "--partition", KEY],
        cwd=workdir,
        env=env,
    )
    assert completed.returncode == 0, completed.stderr[-5000:]

    queried = _run([venv / "bin" / "python", "-c", _QUERY, tmp_path / "ch"], cwd=workdir, env=env)
    assert queried.returncode == 0, queried.stderr[-3000:]
    tables = json.loads(queried.stdout)
    assert tables["usage"] > 0
    assert tables["quarantine"] == 3
    assert MARTS <= set(tables["marts"]), tables["marts"]
    assert tables["daily_rows"] > 0

    # dbt's run artifacts went to the default state directory of an installed package
    # (./.metering of the working directory), and nothing at all into the installed package.
    assert list((workdir / ".metering" / "dbt").rglob("run_results.json"))
    after = _snapshot(package)
    assert after == before, {
        "added": sorted(after.keys() - before.keys()),
        "changed": sorted(k for k in before.keys() & after.keys() if before[k] != after[k]),
        "removed": sorted(before.keys() - after.keys()),
    }


def test_installed_package_state_defaults(venv, tmp_path):
    """METERING_HOME names the state directory; without it, an installed package uses ./.metering, never site-packages."""
    script = (
        "import json; from metering_pipeline import settings; print(json.dumps([str(settings.STATE_DIR), settings.CHECKOUT_ROOT is None]))"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("METERING_") and key != "PYTHONPATH"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    home = _run([venv / "bin" / "python", "-c", script], cwd=tmp_path, env={**env, "METERING_HOME": str(tmp_path / "home")})
    assert home.returncode == 0, home.stderr[-2000:]
    assert json.loads(home.stdout) == [str(tmp_path / "home"), True]
    cwd = _run([venv / "bin" / "python", "-c", script], cwd=tmp_path, env=env)
    assert cwd.returncode == 0, cwd.stderr[-2000:]
    assert json.loads(cwd.stdout) == [str(tmp_path / ".metering"), True]
