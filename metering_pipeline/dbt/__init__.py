"""The analyst marts: a dbt project (project/, shipped as package data) run by Dagster on the pipeline's warehouse.

definitions.py needs:
    build_dbt_assets()                     -> the dbt multi-asset (hourly partitions, pool "clickhouse")
    dbt_resource(clickhouse_url, database) -> bind it under DBT_RESOURCE_KEY ("dbt")

Names resolve lazily so `python -m metering_pipeline.dbt.prepare` does not import Dagster
just to find the manifest up to date.
"""

from importlib import import_module

_EXPORTS = {
    "ManifestMissingError": "metering_pipeline.dbt.assets",
    "build_dbt_assets": "metering_pipeline.dbt.assets",
    "dbt_project": "metering_pipeline.dbt.assets",
    "DBT_RESOURCE_KEY": "metering_pipeline.dbt.resources",
    "MeteringDbtCliResource": "metering_pipeline.dbt.resources",
    "dbt_resource": "metering_pipeline.dbt.resources",
    "dbt_vars": "metering_pipeline.dbt.vars",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
