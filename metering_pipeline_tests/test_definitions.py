"""The code location loads, without touching ClickHouse, S3 or the environment's values."""

from datetime import UTC, datetime

import dagster as dg
import pytest

from metering_pipeline.catalog import CatalogError, load_catalog, parse_catalog
from metering_pipeline.catalog.jsonpath import parse_jsonpath
from metering_pipeline.schedules import hourly_schedule, last_complete_hour


def test_definitions_load():
    from metering_pipeline.definitions import defs

    dg.Definitions.validate_loadable(defs)
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"accepted_events", "quarantined_lines", "usage_hourly"} <= keys
    assert defs.resolve_job_def("hourly_metering").partitions_def is not None


def test_step_processes_are_forked_unless_the_run_config_chooses_otherwise():
    from metering_pipeline.definitions import defs

    job = defs.resolve_job_def("hourly_metering")

    def execution(run_config: dict) -> dict:
        return dg.validate_run_config(job, run_config)["execution"][job.executor_def.name]

    assert execution({})["multiprocess"]["start_method"] == {"forkserver": {"preload_modules": ["metering_pipeline.definitions"]}}
    assert set(execution({"execution": {"config": {"in_process": {}}}})) == {"in_process"}


def test_schedule_runs_last_complete_hour_with_a_run_key():
    assert last_complete_hour(datetime(2026, 11, 22, 11, 10, tzinfo=UTC)) == "2026-11-22-10:00"
    assert last_complete_hour(datetime(2026, 11, 23, 0, 10, tzinfo=UTC)) == "2026-11-22-23:00"
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 22, 11, 10, tzinfo=UTC))
    request = hourly_schedule(context)
    assert request.partition_key == "2026-11-22-10:00"
    assert request.run_key == "scheduled-2026-11-22-10:00"


def test_default_catalog_is_valid():
    catalog = load_catalog()
    assert {m.aggregation for m in catalog.meters} >= {"count", "sum", "unique_count"}
    assert catalog.digest == load_catalog().digest


def test_jsonpath_subset():
    assert parse_jsonpath("$.a.b") == ("a", "b")
    assert parse_jsonpath('$["odd key"].x') == ("odd key", "x")
    for bad in ("a.b", "$", "$..a", "$.a[0]", "$.a; DROP"):
        with pytest.raises(ValueError):
            parse_jsonpath(bad)


@pytest.mark.parametrize(
    "meter, message",
    [
        ({"name": "m", "event_type": "t", "aggregation": "avg", "unit": "u"}, "aggregation"),
        ({"name": "m", "event_type": "t", "aggregation": "sum", "unit": "u"}, "value"),
        ({"name": "m", "event_type": "t", "aggregation": "count", "unit": "u", "value": "$.x"}, "value"),
        ({"name": "m", "event_type": "t", "aggregation": "sum", "unit": "u", "value": "x"}, "JSONPath"),
    ],
)
def test_catalog_refuses_bad_meters(meter, message):
    with pytest.raises(CatalogError, match=message):
        parse_catalog({"sources": [{"name": "events", "format": "cloudevents"}], "meters": [meter]})


def test_catalog_refuses_path_like_source_names():
    with pytest.raises(CatalogError, match="source name"):
        parse_catalog(
            {
                "sources": [{"name": "../etc", "format": "cloudevents"}],
                "meters": [{"name": "m", "event_type": "t", "aggregation": "count", "unit": "u"}],
            }
        )
