"""The operating pieces as `metering_pipeline.definitions.defs` wires them: the code location itself, not a copy.

Everything here is read from the one Definitions object the webserver and daemon load, so
a sensor, job, schedule or resource dropped from (or mis-wired in) definitions.py fails
here. Loading it touches no ClickHouse, S3 or environment value.
"""

import dagster as dg

from metering_pipeline import definitions
from metering_pipeline.alerts import AlertWebhook
from metering_pipeline.resources import CatalogResource, ClickHouseResource, LandingZone
from metering_pipeline.resources.export_store import ExportStore
from metering_pipeline.schedules import hourly_job
from metering_pipeline.sensors import late_file_sensor

defs = definitions.defs


def test_the_code_location_loads():
    dg.Definitions.validate_loadable(defs)


def test_the_late_file_sensor_is_wired_to_the_hourly_job_with_its_resources():
    assert sorted(sensor.name for sensor in defs.sensors or []) == ["late_file_sensor", "pipeline_runs_failures"]
    sensor = defs.resolve_sensor_def("late_file_sensor")
    assert sensor is late_file_sensor
    assert sensor.job_name == "hourly_metering"
    [target] = sensor.targets
    assert target.job_name == hourly_job.name
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED  # turned on by operators, not by a deploy

    # Every resource the sensor asks for is in defs, of the type the sensor expects.
    expected = {"landing": LandingZone, "catalog": CatalogResource, "alert_webhook": AlertWebhook}
    assert sensor.required_resource_keys == set(expected)
    for key, kind in expected.items():
        assert isinstance(defs.resources[key], kind), f"defs.resources[{key!r}] is {type(defs.resources[key]).__name__}"


def test_the_sensors_target_reruns_the_whole_graph_of_an_hour():
    job = defs.resolve_job_def(late_file_sensor.job_name)
    assert job.partitions_def is not None
    assets = {key.to_user_string() for key in job.asset_layer.asset_graph.get_all_asset_keys()}
    assert {"accepted_events", "usage_hourly", "usage_daily", "usage_alerts", "billing_export"} <= assets
    assert assets == {
        key.to_user_string()
        for key in defs.resolve_asset_graph().get_all_asset_keys()
        if defs.resolve_asset_graph().get(key).is_materializable
    }
    checks = {key.name for key in job.asset_layer.asset_graph.asset_check_keys}
    assert "last_complete_hour_fresh" in checks and "alerts_delivered" in checks
    assert "no_late_files_beyond_lookback" not in checks  # the sweep's check never runs inside hourly runs
    for key in ("clickhouse", "landing", "catalog", "export_store", "alert_webhook"):
        assert key in job.resource_defs, key
    assert isinstance(defs.resources["clickhouse"], ClickHouseResource)
    assert isinstance(defs.resources["export_store"], ExportStore)


def test_jobs_and_schedules():
    assert sorted(job.name for job in defs.jobs) == ["freshness_checks", "hourly_metering"]
    assert {s.name: s.job_name for s in defs.schedules} == {"hourly_schedule": "hourly_metering", "freshness_schedule": "freshness_checks"}
    assert [node.name for node in defs.resolve_job_def("freshness_checks").graph.node_defs] == ["freshness"]
