"""What each benchmark worker process does: one stage, measured, reported as a JSON-able dict.

Every stage runs in a fresh process (see run.py) so its peak RSS is its own. Stages call the
same building blocks the Dagster assets call (`ingest_hour`, `build_usage_hour` +
`count_mismatches`), or Dagster itself (`optional stages`, the backfill), on a chDB directory
of their own. Wall times exclude interpreter start, imports and opening chDB, which are
reported separately: a Dagster run process pays them once, whatever the number of hours.
"""

import functools
import os
import re
import resource
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path


def rss_now() -> int:
    """Resident set size now, bytes (VmRSS)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def rss_peak() -> int:
    """Peak resident set size of this process so far, bytes."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


_STAGE = re.compile(r"_stage_[0-9a-f]{16}_")


def _label(method: str, args) -> str:
    text = args[0] if args and isinstance(args[0], str) else ""
    text = _STAGE.sub("stage.", " ".join(text.split()))
    return f"{method}: {text[:110]}" if text else method


def _timed(original, record):
    """`original`, reporting each call's wall seconds and how far it raised the peak RSS to `record`."""

    @functools.wraps(original)
    def timed(*args, **kwargs):
        started, peak = time.monotonic(), rss_peak()
        try:
            return original(*args, **kwargs)
        finally:
            record(time.monotonic() - started, rss_peak() - peak)

    return timed


class StatementTimer:
    """Wraps a clickhouse-connect client's calls to time each statement (by a short label)."""

    METHODS = ("command", "query", "query_arrow", "query_df", "insert", "insert_arrow", "insert_df", "raw_insert")

    def __init__(self, client):
        self.totals: dict[str, list] = defaultdict(lambda: [0, 0.0, 0])  # calls, seconds, peak RSS raised
        self._depth = 0
        for name in self.METHODS:
            original = getattr(client, name, None)
            if original is not None:
                setattr(client, name, self._wrap(name, original))

    def _wrap(self, name, original):
        @functools.wraps(original)
        def timed(*args, **kwargs):
            if self._depth:  # insert_arrow calls raw_insert: the statement counts once, as the outer call
                return original(*args, **kwargs)
            entry = self.totals[_label(name, args)]

            def record(seconds: float, raised: int) -> None:
                entry[0] += 1
                entry[1] += seconds
                entry[2] += raised

            self._depth += 1
            try:
                return _timed(original, record)(*args, **kwargs)
            finally:
                self._depth -= 1

        return timed

    def top(self, n: int = 10) -> list[dict]:
        ranked = sorted(self.totals.items(), key=lambda item: -item[1][1])[:n]
        return [
            {"statement": label, "calls": calls, "seconds": round(seconds, 3), "peak_raised": raised}
            for label, (calls, seconds, raised) in ranked
        ]


class FunctionTimer:
    """Times calls to module-level functions by rebinding them (the code path is unchanged)."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.raised: dict[str, int] = defaultdict(int)
        self._undo = []

    def wrap(self, module, name: str, label: str | None = None) -> bool:
        original = getattr(module, name, None)
        if original is None or not callable(original):
            return False
        key = label or name

        def record(seconds: float, raised: int) -> None:
            self.seconds[key] += seconds
            self.raised[key] += raised

        setattr(module, name, _timed(original, record))
        self._undo.append((module, name, original))
        return True

    def restore(self):
        for module, name, original in reversed(self._undo):
            setattr(module, name, original)
        self._undo.clear()


def _hour(spec) -> datetime:
    return datetime.fromisoformat(spec["hour"]).astimezone(UTC)


def _resources(spec):
    from metering_pipeline.resources import CatalogResource, ClickHouseResource, LandingZone

    clickhouse = ClickHouseResource(url=f"chdb://{spec['chdb']}", lock_timeout_seconds=60)
    return (
        clickhouse,
        LandingZone(url=spec["landing"], reader=os.environ.get("METERING_INGEST_READER", "engine")),
        CatalogResource(path=spec.get("catalog", "")).load(),
    )


def reader_of(landing) -> str:
    """How the Dagster asset would read this landing zone on the embedded engine (ingest/engine.py)."""
    from metering_pipeline.ingest.engine import reading_function

    return reading_function(landing.reader, landing.on_s3, embedded=True)


# --- stages --------------------------------------------------------------------------------------


def stage_floor(spec) -> dict:
    import clickhouse_connect

    from benchmarks.floor import floor_meters, run_floor
    from metering_pipeline.catalog import load_catalog

    catalog = load_catalog(spec.get("catalog") or None)
    started = time.monotonic()
    client = clickhouse_connect.get_client(dsn=f"chdb://{spec['chdb']}")
    opened = time.monotonic() - started
    out = {"open_seconds": round(opened, 3), "baseline_rss": rss_now(), "variants": {}}
    try:
        for variant in spec.get("variants", ["line"]):
            runs = []
            for _ in range(spec.get("repeat", 3)):
                started = time.monotonic()
                rows, events, totals = run_floor(
                    client, catalog, spec["glob"], _hour(spec), variant, spec.get("event_types"), spec.get("function", "file")
                )
                runs.append(round(time.monotonic() - started, 3))
            out["variants"][variant] = {
                "seconds": min(runs),
                "runs": runs,
                "rows": rows,
                "events": events,
                "meters": {k: str(v) for k, v in totals.items()},
            }
        out["meters_floored"] = [m.name for m in floor_meters(catalog, spec.get("event_types"))]
    finally:
        client.close()
    out["peak_rss"] = rss_peak()
    return out


def _warm_gx() -> dict:
    """Import great-expectations and build its context once, as the first validated hour of a run does."""
    started = time.monotonic()
    import great_expectations  # noqa: F401

    imported = time.monotonic() - started
    started = time.monotonic()
    try:
        from metering_pipeline.validate import gx_runner

        getattr(gx_runner, "_batch_definition", lambda: None)()
    except Exception:  # a refactored runner: its first call pays the context instead
        pass
    return {"gx_import_seconds": round(imported, 3), "gx_context_seconds": round(time.monotonic() - started, 3)}


# Module-level functions of ingest/hour.py timed as sub-steps when present (the rest is "rest").
INGEST_STEPS = (("load_files", "load"), ("stage_mapped", "map"), ("validate_frame", "validate"))


def apply_experiments(spec) -> list[str]:
    if not spec.get("experiment"):
        return []
    from benchmarks.experiments import apply

    return apply(spec["experiment"])


def stage_ingest(spec) -> dict:
    import metering_pipeline.ingest.hour as hour_module

    applied = apply_experiments(spec)
    out = _warm_gx()
    out["experiments"] = applied
    clickhouse, landing, catalog = _resources(spec)
    functions = FunctionTimer()
    for name, label in INGEST_STEPS:
        functions.wrap(hour_module, name, label)
    out["baseline_rss"] = rss_now()
    started = time.monotonic()
    with clickhouse.get_client(purpose="benchmark ingest") as client:
        out["open_seconds"] = round(time.monotonic() - started, 3)
        statements = StatementTimer(client)
        original_query_arrow = client.query_arrow

        def query_arrow(*args, **kwargs):  # the validation frame is the one arrow read of ingest
            t0 = time.monotonic()
            try:
                return original_query_arrow(*args, **kwargs)
            finally:
                functions.seconds["frame"] += time.monotonic() - t0

        client.query_arrow = query_arrow
        started = time.monotonic()
        report = hour_module.ingest_hour(client, landing, catalog, _hour(spec), reader=reader_of(landing))
        seconds = time.monotonic() - started
    functions.restore()
    split = {k: round(v, 3) for k, v in functions.seconds.items()}
    split["rest"] = round(seconds - sum(functions.seconds.values()), 3)
    out.update(
        {
            "seconds": round(seconds, 3),
            "split": split,
            "peak_raised": dict(functions.raised),
            "statements": statements.top(12),
            "report": {
                "lines_read": report.lines_read,
                "accepted": report.accepted,
                "duplicates": report.duplicates,
                "quarantined": dict(report.quarantined),
                "files": report.files,
                "bytes_read": report.bytes_read,
                "tenants": report.tenants,
                "reconciles": bool(report.reconciles),
            },
            "peak_rss": rss_peak(),
        }
    )
    return out


def stage_usage(spec) -> dict:
    apply_experiments(spec)
    # A Dagster step process has pandas imported before its step starts (loading the definitions
    # imports it, through dagster-dbt); clickhouse-connect's first row insert (tenant_periods)
    # would otherwise pay that import (1.2-2.2 s) inside the measured step.
    import pandas  # noqa: F401

    import metering_pipeline.usage.hour as usage_hour
    from metering_pipeline.calendars.store import build_period_hours
    from metering_pipeline.usage.integrity import count_mismatches, window_mismatches

    build_usage_hour = usage_hour.build_usage_hour
    clickhouse, _, catalog = _resources(spec)
    hour = _hour(spec)
    out = {"baseline_rss": rss_now()}
    started = time.monotonic()
    with clickhouse.get_client(purpose="benchmark usage") as client:
        out["open_seconds"] = round(time.monotonic() - started, 3)
        statements = StatementTimer(client)
        started = time.monotonic()
        report = build_usage_hour(client, catalog, hour)
        built = time.monotonic() - started
        started = time.monotonic()
        mismatches = count_mismatches(client, catalog, hour) + window_mismatches(client, hour)
        checked = time.monotonic() - started
        started = time.monotonic()
        build_period_hours(client, catalog, [hour])  # the usage_hourly asset's step builds tenant_periods too
        periods = time.monotonic() - started
        top = statements.top(6)
        totals = client.query(
            "SELECT meter, toString(sum(value)) FROM usage_hourly WHERE hour = {h:DateTime('UTC')} GROUP BY meter",
            parameters={"h": hour.replace(tzinfo=None)},
        ).result_rows
    out.update(
        {
            "seconds": round(built + checked + periods, 3),
            "split": {"build": round(built, 3), "checks": round(checked, 3), "tenant_periods": round(periods, 3)},
            "statements": top,
            "rows": report.rows,
            "tenants": report.tenants,
            "events": report.events,
            "mismatches": [list(map(str, m)) for m in mismatches],
            "meters": {meter: total for meter, total in totals},
            "peak_rss": rss_peak(),
        }
    )
    return out


def _definitions(spec):
    """The project's real Definitions, with its resources pointed at the benchmark's folders."""
    os.environ["METERING_CLICKHOUSE_URL"] = f"chdb://{spec['chdb']}"
    os.environ["METERING_LANDING_URL"] = spec["landing"]
    os.environ["METERING_EXPORT_URL"] = spec.get("export", str(Path(spec["chdb"]).parent / "export"))
    os.environ.setdefault("METERING_DATABASE", "metering")
    from metering_pipeline.definitions import defs

    return defs


def _job(defs, keys, name: str):
    import dagster as dg

    from metering_pipeline.partitions import hourly_partitions

    job = dg.define_asset_job(name, selection=dg.AssetSelection.assets(*keys), partitions_def=hourly_partitions)
    return dg.Definitions(assets=defs.assets, asset_checks=defs.asset_checks, resources=defs.resources, jobs=[job]).resolve_job_def(name)


def stage_dagster(spec) -> dict:
    """Materialize some assets of the real definitions for a partition range, as one run."""
    import dagster as dg

    from metering_pipeline.partitions import partition_key_for

    started = time.monotonic()
    defs = _definitions(spec)
    applied = apply_experiments(spec)
    keys = [dg.AssetKey.from_user_string(k) for k in spec["assets"]]
    job = _job(defs, keys, "benchmark_run")
    prepared = time.monotonic() - started
    first = _hour(spec)
    last = first + timedelta(hours=spec.get("hours", 1) - 1)
    tags = {"dagster/asset_partition_range_start": partition_key_for(first), "dagster/asset_partition_range_end": partition_key_for(last)}
    out = {"baseline_rss": rss_now(), "prepare_seconds": round(prepared, 3), "experiments": applied}
    with dg.DagsterInstance.ephemeral() as instance:
        started = time.monotonic()
        result = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)
        seconds = time.monotonic() - started
        runs = instance.get_runs_count()
        failures = [str(event.message)[:300] for event in result.all_events if event.is_failure][:3]
    out.update(
        {
            "seconds": round(seconds, 3),
            "success": bool(result.success),
            "runs_launched": runs,
            "failures": failures,
            "peak_rss": rss_peak(),
            "children_peak_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
        }
    )
    if spec.get("count_tables"):
        from metering_pipeline.resources import ClickHouseResource

        window = {"a": first.replace(tzinfo=None), "b": (last + timedelta(hours=1)).replace(tzinfo=None)}
        with ClickHouseResource(url=f"chdb://{spec['chdb']}").get_client(purpose="benchmark count") as client:
            counts = {}
            for table in ("events", "quarantine", "usage_hourly"):
                counts[table] = client.command(
                    f"SELECT count() FROM `{table}` WHERE hour >= {{a:DateTime('UTC')}} AND hour < {{b:DateTime('UTC')}}",
                    parameters=window,
                )
            counts["hours_with_events"] = client.command(
                "SELECT uniqExact(hour) FROM events WHERE hour >= {a:DateTime('UTC')} AND hour < {b:DateTime('UTC')}",
                parameters=window,
            )
        out["tables"] = counts
    return out


def stage_assets(spec) -> dict:
    """The asset keys and groups of the real definitions (to find export / dbt stages)."""
    defs = _definitions(spec)
    groups: dict[str, list[str]] = defaultdict(list)
    for assets_def in defs.assets or []:
        for key, group in getattr(assets_def, "group_names_by_key", {}).items():
            groups[group].append(key.to_user_string())
    return {"groups": dict(groups)}


STAGES = {
    "floor": stage_floor,
    "ingest": stage_ingest,
    "usage": stage_usage,
    "dagster": stage_dagster,
    "assets": stage_assets,
}


def run_stage(spec: dict) -> dict:
    if spec["stage"] == "profile":
        from benchmarks.profile import stage_profile

        return stage_profile(spec)
    return STAGES[spec["stage"]](spec)
