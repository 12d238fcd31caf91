"""The analyst marts: a dbt project (project/, shipped as package data) run by Dagster on the pipeline's warehouse.

`assets.build_dbt_assets()` is the dbt multi-asset, `resources.dbt_resource(url, database)` binds it
under `resources.DBT_RESOURCE_KEY`; `paths` says where the project and manifest are. This package
imports nothing itself, so `python -m metering_pipeline.dbt.prepare` finds the manifest up to date
without importing Dagster.
"""
