"""The hourly schedule: a few minutes after each hour closes, run that hour through the whole graph."""

from datetime import datetime, timedelta

import dagster as dg

from metering_pipeline.partitions import hourly_partitions, partition_key_for

MINUTES_AFTER_HOUR = 10

hourly_job = dg.define_asset_job("hourly_metering", selection=dg.AssetSelection.all(), partitions_def=hourly_partitions)


def last_complete_hour(now: datetime) -> str:
    """The partition of the last hour that has fully closed at `now`."""
    return partition_key_for(now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1))


@dg.schedule(job=hourly_job, cron_schedule=f"{MINUTES_AFTER_HOUR} * * * *", execution_timezone="UTC")
def hourly_schedule(context: dg.ScheduleEvaluationContext):
    key = last_complete_hour(context.scheduled_execution_time)
    # The run key makes a tick idempotent: a replayed tick for the same hour launches nothing.
    return dg.RunRequest(run_key=f"scheduled-{key}", partition_key=key)
