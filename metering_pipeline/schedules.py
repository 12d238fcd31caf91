"""When the pipeline runs: the clock, the policy every asset step shares, the hourly job and its schedule.

The cross-cutting asset policy is defined here, once, and definitions.py refuses to load an
asset without it: every asset is partitioned by hour (the unit of work, rerun and billing
window), a backfill of many hours is one run (each step loops over its hours holding one
ClickHouse client), and every step is in the `clickhouse` pool (limited in dagster.yaml), as
only one process at a time may hold the embedded engine. Decorators take it as
`**ASSET_POLICY`: Dagster fixes an op's pool when the op is built, so it cannot be added to a
built asset afterwards.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from metering_pipeline.partitions import hourly_partitions, partition_key_for
from metering_pipeline.resources import CLICKHOUSE_POOL

MINUTES_AFTER_HOUR = 10
SINGLE_RUN = dg.BackfillPolicy.single_run()
ASSET_POLICY = {"partitions_def": hourly_partitions, "backfill_policy": SINGLE_RUN, "pool": CLICKHOUSE_POOL}

hourly_job = dg.define_asset_job("hourly_metering", selection=dg.AssetSelection.all(), partitions_def=hourly_partitions)


def utc_now() -> datetime:
    """The clock every sensor, check and alert reads (aware, UTC); tests pass their own."""
    return datetime.now(UTC)


def last_complete_hour(now: datetime) -> str:
    """The partition of the last hour that has fully closed at `now`."""
    return partition_key_for(now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1))


@dg.schedule(job=hourly_job, cron_schedule=f"{MINUTES_AFTER_HOUR} * * * *", execution_timezone="UTC")
def hourly_schedule(context: dg.ScheduleEvaluationContext):
    key = last_complete_hour(context.scheduled_execution_time)
    # The run key makes a tick idempotent: a replayed tick for the same hour launches nothing.
    return dg.RunRequest(run_key=f"scheduled-{key}", partition_key=key)
