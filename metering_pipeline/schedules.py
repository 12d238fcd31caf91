"""When the pipeline runs: the clock, the policy every asset step shares, the hourly job and its schedule.

The cross-cutting asset policy is defined here, once, and definitions.py refuses to load an
asset without it: every asset is partitioned by hour (the unit of work, rerun and billing
window), a backfill of many hours is one run (each step loops over its hours holding one
ClickHouse client), and every step is in the `clickhouse` pool (limited in dagster.yaml), as
only one process at a time may hold the embedded engine. With a ClickHouse server there is no
such lock: METERING_BACKFILL_HOURS_PER_RUN (read when the definitions load) splits a backfill
into runs of that many hours, and the pool's limit decides how many run at once. Decorators take it as
`**ASSET_POLICY`: Dagster fixes an op's pool when the op is built, so it cannot be added to a
built asset afterwards.
"""

import os
from datetime import UTC, datetime, timedelta

import dagster as dg

from metering_pipeline.partitions import hourly_partitions, partition_key_for
from metering_pipeline.resources import CLICKHOUSE_POOL

MINUTES_AFTER_HOUR = 10
SINGLE_RUN = dg.BackfillPolicy.single_run()
HOURS_PER_RUN_ENV = "METERING_BACKFILL_HOURS_PER_RUN"


def backfill_policy(hours_per_run: str | None, clickhouse_url: str | None) -> dg.BackfillPolicy:
    """One run per backfill on the embedded engine; runs of `hours_per_run` hours in parallel against a server.

    Only the URL's scheme is looked at (the rest may hold a password)."""
    if not hours_per_run:
        return SINGLE_RUN
    if not hours_per_run.isdigit() or int(hours_per_run) < 1:
        raise ValueError(f"{HOURS_PER_RUN_ENV} must be a whole number of hours of at least 1, got {hours_per_run!r}")
    if not (clickhouse_url or "").startswith(("http://", "https://")):
        raise ValueError(
            f"{HOURS_PER_RUN_ENV} needs a ClickHouse server (METERING_CLICKHOUSE_URL=http(s)://...): "
            "the embedded engine is held by one process at a time, so its backfills stay one run"
        )
    return dg.BackfillPolicy.multi_run(int(hours_per_run))


BACKFILL_POLICY = backfill_policy(os.environ.get(HOURS_PER_RUN_ENV), os.environ.get("METERING_CLICKHOUSE_URL"))
ASSET_POLICY = {"partitions_def": hourly_partitions, "backfill_policy": BACKFILL_POLICY, "pool": CLICKHOUSE_POOL}

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
