"""Shared fixtures: a real embedded ClickHouse (chDB) and a landing folder per test."""

import os

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import pytest  # noqa: E402

from metering_pipeline.resources import CatalogResource, ClickHouseResource, LandingZone  # noqa: E402

# Fixtures every module may ask for by name: an S3 endpoint (moto in server mode on loopback), a bucket
# on it, and an export store of either kind. Imported here once, so test modules need no imports of them.
from metering_pipeline_tests.support.export_helpers import export_store  # noqa: E402, F401
from metering_pipeline_tests.support.s3_server import moto_server, s3  # noqa: E402, F401


@pytest.fixture
def clickhouse(tmp_path) -> ClickHouseResource:
    return ClickHouseResource(url=f"chdb://{tmp_path / 'clickhouse'}", lock_timeout_seconds=30)


@pytest.fixture
def landing_dir(tmp_path):
    path = tmp_path / "landing"
    path.mkdir()
    return path


@pytest.fixture
def landing(landing_dir) -> LandingZone:
    return LandingZone(url=str(landing_dir))


@pytest.fixture
def catalog_resource() -> CatalogResource:
    return CatalogResource()
