"""dbt adapter `chdb`: dbt-clickhouse over clickhouse-connect's embedded chDB engine.

Ships inside the metering_pipeline package as package data (metering_pipeline/dbt/adapter/,
not a subpackage): put the folder holding `dbt/adapters/chdb/` on PYTHONPATH
(`metering_pipeline.dbt.resources` does it for the dbt subprocess). `dbt.adapters` is a
pkgutil namespace, so this plugin joins it like any installed adapter.
"""

from pathlib import Path

from dbt.adapters.base import AdapterPlugin
from dbt.adapters.chdb.connections import ChdbConnectionManager  # noqa: F401
from dbt.adapters.chdb.credentials import ChdbCredentials
from dbt.adapters.chdb.impl import ChdbAdapter

# Its own tiny dbt project (name dbt_chdb) that depends on the clickhouse plugin: pointing
# at dbt-clickhouse's include path would make dbt load the package dbt_clickhouse twice.
PACKAGE_PATH = str(Path(__file__).resolve().parents[2] / "include" / "chdb")

Plugin = AdapterPlugin(
    adapter=ChdbAdapter,
    credentials=ChdbCredentials,
    include_path=PACKAGE_PATH,
    dependencies=["clickhouse"],
)
