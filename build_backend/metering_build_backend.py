"""PEP 517 backend: setuptools, plus a refusal to build a wheel or sdist without a current dbt manifest.

The wheel ships the dbt project with its manifest (project/target/manifest.json), written by
`python -m metering_pipeline.dbt.prepare` (`make prepare`): an installed package never
parses, so a wheel built without it, or with one older than the SQL it ships, would
fail (or serve stale assets) only where it is deployed. Building it here instead would need
dbt, its adapters and the chdb plugin inside the isolated build environment.

Editable installs are not checked: `make install` runs before the first `make prepare`, and
a checkout re-prepares on its own (`--if-stale`).
"""

import importlib.util
from pathlib import Path

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F401,F403  (every hook setuptools provides)

SOURCE_ROOT = Path(__file__).resolve().parents[1]
PATHS_MODULE = SOURCE_ROOT / "metering_pipeline" / "dbt" / "paths.py"


def _dbt_paths():
    """metering_pipeline/dbt/paths.py by file: importing the package would need its dependencies."""
    spec = importlib.util.spec_from_file_location("_metering_dbt_paths", PATHS_MODULE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_manifest() -> None:
    """The manifest exists and, on a checkout, is newer than every dbt project file.

    From an unpacked sdist (PKG-INFO at its root) only its presence is checked: the sdist
    was checked when it was built, and unpacking does not keep the files' times.
    """
    paths = _dbt_paths()
    from_sdist = (SOURCE_ROOT / "PKG-INFO").is_file()
    stale = [] if from_sdist and paths.MANIFEST_PATH.exists() else paths.stale_sources()
    if stale:
        root = paths.DBT_PROJECT_DIR
        named = ", ".join(str(p.relative_to(root)) for p in stale[:5]) + (" ..." if len(stale) > 5 else "")
        problem = "is missing" if not paths.MANIFEST_PATH.exists() else f"is older than {named}"
        raise RuntimeError(
            f"{paths.MANIFEST_PATH} {problem}: run `python -m metering_pipeline.dbt.prepare --if-stale`"
            " (make prepare) before building; the wheel ships the manifest as built"
        )


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    check_manifest()
    return _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory, config_settings=None):
    check_manifest()
    return _setuptools.build_sdist(sdist_directory, config_settings)
