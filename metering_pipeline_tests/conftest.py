"""Shared fixtures: a real embedded ClickHouse (chDB) and a landing folder per test."""

import os

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import pytest  # noqa: E402

from metering_pipeline.resources import CatalogResource, ClickHouseResource, LandingZone  # noqa: E402


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
