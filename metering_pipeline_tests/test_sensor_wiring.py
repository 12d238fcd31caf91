"""The operating pieces wired as definitions.py is asked to wire them: loadable, and each where it belongs."""

import dagster as dg

from metering_pipeline.alerts import alert_resources, usage_alerts
from metering_pipeline.export import billing_export
from metering_pipeline.freshness import build_freshness
from metering_pipeline.ingest.assets import ingest
from metering_pipeline.resources.export_store import ExportStore
from metering_pipeline.schedules import hourly_job, hourly_schedule
from metering_pipeline.sensors import landing_zone, late_file_sensor, late_files_check
from metering_pipeline.usage.assets import usage_hourly


def test_operating_definitions_load_and_the_hourly_job_covers_alerts_and_freshness(tmp_path):
    from metering_pipeline.definitions import resources

    fresh = build_freshness("usage_hourly", "billing_export")
    defs = dg.Definitions(
        assets=[landing_zone, ingest, usage_hourly, usage_alerts, billing_export],
        asset_checks=[late_files_check, *fresh.checks],
        jobs=[hourly_job, *fresh.jobs],
        schedules=[hourly_schedule, *fresh.schedules],
        sensors=[late_file_sensor],
        resources={**resources(), "export_store": ExportStore(url=str(tmp_path)), **alert_resources()},
    )
    dg.Definitions.validate_loadable(defs)
    hourly = defs.resolve_job_def("hourly_metering")
    checks = {key.name for key in hourly.asset_layer.asset_graph.asset_check_keys}
    assert "last_complete_hour_fresh" in checks and "alerts_delivered" in checks
    assert "no_late_files_beyond_lookback" not in checks  # the sweep's check never runs inside hourly runs
    assert defs.resolve_sensor_def("late_file_sensor").job_name == "hourly_metering"
    assert [node.name for node in defs.resolve_job_def("freshness_checks").graph.node_defs] == ["freshness"]
