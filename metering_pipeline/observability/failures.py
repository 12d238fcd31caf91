"""Failed runs in the run history: a run-failure sensor records the failed run's steps in `pipeline_runs`.

Why a sensor rather than a failure hook on the assets:
- A run with a failed step never reaches the `pipeline_runs` asset (it depends on every observed
  step), so the failure has to be seen from outside the run. A hook runs inside the run's process,
  which is exactly what is missing when the process is killed (out of memory, a node lost, a
  cancel): the run is marked failed by Dagster's run monitoring and only a run-status sensor hears of it.
- The sensor reads the failed run's event log with the observer's own reader (run_log.py): the
  steps that succeeded are recorded with their figures (their work happened and the counters must
  include it), each failed step gets a row with outcome `failure`, its hours (the partitions the
  run planned for it), its start and end, and its error's class; a step that started and never
  ended is `interrupted`. Rows are keyed by (run, asset) as the observer's are, so a sensor tick
  evaluated twice, or a run whose observer had already recorded part of it, writes nothing twice.
- Hooks would have to be attached to every asset and job (and to ad-hoc materializations from the
  UI); the sensor covers every run of the code location in one place, launches nothing and is on
  by default: a billing audit must not depend on someone switching it on.

Its cost: the sensor opens the warehouse from the daemon, queueing on the embedded engine's lock
like any step; a tick that cannot open it fails and the cursor stays, so the next tick retries.
"""

import dagster as dg

from metering_pipeline.observability.assets import record_run
from metering_pipeline.observability.pushgateway import Pushgateway
from metering_pipeline.resources import ClickHouseResource

SENSOR = "pipeline_runs_failures"


@dg.run_failure_sensor(
    name=SENSOR,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records each failed run's steps in `pipeline_runs` (outcome failure, with the error's class) "
    "and pushes metering_hour_failures_total.",
)
def record_failed_run(context: dg.RunFailureSensorContext, clickhouse: ClickHouseResource, pushgateway: Pushgateway):
    run_id = context.dagster_run.run_id
    done = record_run(clickhouse, pushgateway, run_id, context.instance.all_logs(run_id), context.log, other_failures=True)
    if done["steps_failed"]:
        context.log.warning("run %s failed: %s recorded in pipeline_runs", run_id, ", ".join(done["steps_failed"]))
