"""Observability: the run history in ClickHouse (`pipeline_runs`) and Prometheus metrics pushed to a Pushgateway."""

from metering_pipeline.observability.assets import pipeline_runs
from metering_pipeline.observability.failures import record_failed_run
from metering_pipeline.observability.history import PIPELINE_RUNS
from metering_pipeline.observability.pushgateway import PUSHGATEWAY_ENV, Pushgateway, pushgateway

__all__ = ["PIPELINE_RUNS", "PUSHGATEWAY_ENV", "Pushgateway", "pipeline_runs", "pushgateway", "record_failed_run"]
