"""`python -m benchmarks.run` (make bench): the pipeline against the engine floor, and a month backfill.

For each size (default 100K, 1M, 5M events): generate the hour once (cached under
benchmarks/data/), then run, each in a fresh process on the same files:
  floor   one chDB statement: read, dedup on (source, id), aggregate the meters (benchmarks/floor.py);
          the best of 3 runs
  ingest  `ingest_hour`: landing files -> lines -> GX validation -> events + quarantine (ingest + validate)
  usage   `build_usage_hour` + `count_mismatches`, as the usage_hourly asset does
  other   assets of the real definitions outside ingest/usage (billing export, dbt marts) when present,
          through Dagster for the one partition
The pipeline (ingest + usage) runs --repeat times (3), each time on a fresh chDB directory; like
the floor, the hour counts its fastest run, and every run's total is reported. Then report wall
seconds, events/s and peak RSS per stage, the ratio pipeline / floor, and the scaling exponent of
time against events; profile the 1M hour (pyinstrument); and run the backfill: N hours of M
events each as ONE single-run backfill of the real Dagster job.

Results go to benchmarks/RESULTS.md (with --quick: benchmarks/data/RESULTS-quick.md) and, when the
README has the markers `<!-- bench:begin -->` / `<!-- bench:end -->`, the summary table between them.
The measurements are saved as JSON beside the report (`results_json`); `--render` rewrites the
report from them without measuring again.
Nothing here asserts a timing: targets are reported as met or not.
"""

import argparse
import importlib.util
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if os.environ.get("BENCH_CODE_ROOT"):  # a worker for --code-root: before benchmarks.generate imports metering_pipeline
    sys.path.insert(0, os.environ["BENCH_CODE_ROOT"])

from benchmarks.generate import BENCH_HOUR, DATA_ROOT, ensure_backfill, ensure_hour, hour_folder
from benchmarks.report import REPO, RESULTS, fmt_events, secs, update_readme, write_results
from benchmarks.s3landing import S3Landing

RESULT_PREFIX = "BENCH-RESULT "
CODE_ROOT = REPO  # where metering_pipeline is imported from in the workers (--code-root)
RSS_LIMIT = 8 * 2**30  # a worker past this is killed (--rss-limit-gib)
GENERATED_TYPES = ("gateway.request", "gateway.connection", "api.call")
# The ingest multi-asset is selected whole: Dagster refuses a job over some of its outputs.
CORE_ASSETS = ("accepted_events", "quarantined_lines", "dropped_duplicates", "landed_files", "usage_hourly")
BACKFILL_GROUPS = ("ingest", "usage", "export")


# --- workers -------------------------------------------------------------------------------------


def _rss_of(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def worker(spec: dict, timeout: float) -> dict:
    """Run one stage in a fresh Python process; return its result dict (or {'error': ...}).

    The parent samples the worker's RSS and kills it (that pid only) past RSS_LIMIT, so a stage
    that holds a whole big hour in memory fails as a measurement instead of starving the machine.
    """
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "false", "PYTHONPATH": str(REPO)}
    if CODE_ROOT != REPO:
        env["BENCH_CODE_ROOT"] = str(CODE_ROOT)
    env.pop("DAGSTER_HOME", None)
    started = time.monotonic()
    sampled, killed = 0, None
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.run", "--worker", json.dumps(spec)], cwd=REPO, env=env, stdout=out, stderr=err, text=True
        )
        while process.poll() is None:
            rss = _rss_of(process.pid)
            sampled = max(sampled, rss)
            elapsed = time.monotonic() - started
            if rss > RSS_LIMIT or elapsed > timeout:
                killed = f"RSS passed the {RSS_LIMIT / 2**30:.1f} GiB guard" if rss > RSS_LIMIT else f"timed out after {timeout:.0f}s"
                process.kill()
                process.wait()
                break
            time.sleep(0.2)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if killed:
        return {"error": f"stage {spec['stage']} killed: {killed}", "peak_rss": sampled, "killed": True}
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX) :])
            result["process_seconds"] = round(time.monotonic() - started, 3)
            result["sampled_peak_rss"] = sampled
            return result
    tail = (stderr or stdout)[-2500:]
    return {"error": f"stage {spec['stage']} failed (exit {process.returncode}): {tail}"}


def worker_main(raw: str) -> None:
    from benchmarks.stages import run_stage

    result = run_stage(json.loads(raw))
    sys.stdout.flush()
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)


# --- helpers -------------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", flush=True)


def fit_exponent(points: list[tuple[int, float]]) -> float | None:
    """Least-squares slope of log(seconds) against log(events)."""
    points = [(n, s) for n, s in points if n > 0 and s and s > 0]
    if len(points) < 2:
        return None
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(s) for _, s in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else None


def machine() -> dict:
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cores": os.cpu_count(),
        "reader": os.environ.get("METERING_INGEST_READER", "engine"),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory"] = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    from importlib.metadata import PackageNotFoundError, version

    for package in ("chdb", "clickhouse-connect", "pyarrow", "pandas", "great-expectations", "dagster", "numpy"):
        try:
            info[package] = version(package)
        except PackageNotFoundError:
            info[package] = "absent"
    try:
        import chdb

        info["clickhouse"] = chdb.query("SELECT version()", "CSV").bytes().decode().strip().strip('"')
    except Exception:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True, text=True)
        info["commit"] = commit.stdout.strip() + (" (+ uncommitted changes)" if dirty.stdout.strip() else "")
    except OSError:
        pass
    return info


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


# --- one hour ------------------------------------------------------------------------------------


def manifest_check(manifest: dict, ingest: dict, usage: dict) -> list[str]:
    """Where the pipeline disagrees with what the generator wrote (counts, reasons, meter totals)."""
    problems = []
    report = ingest.get("report") or {}
    for key in ("lines_read", "accepted", "duplicates"):
        expected = manifest["lines"] if key == "lines_read" else manifest[key]
        if report.get(key) != expected:
            problems.append(f"{key}: pipeline {report.get(key)}, generated {expected}")
    got = report.get("quarantined") or {}
    for reason in sorted(set(got) | set(manifest["quarantined"])):
        if got.get(reason, 0) != manifest["quarantined"].get(reason, 0):
            problems.append(f"quarantined {reason}: pipeline {got.get(reason, 0)}, generated {manifest['quarantined'].get(reason, 0)}")
    from decimal import Decimal

    for meter, expected in manifest["meters"].items():
        value = (usage.get("meters") or {}).get(meter)
        if value is None or Decimal(value) != Decimal(expected):
            problems.append(f"usage {meter}: pipeline {value}, generated {expected}")
    if usage.get("mismatches"):
        problems.append(f"event_counts_match check: {usage['mismatches']}")
    return problems


def run_pipeline(events: int, args, common: dict, chdb_dir: Path) -> dict:
    """One run of the hour on a fresh chDB directory: ingest, then usage, each in a fresh process."""
    ingest = worker({**common, "stage": "ingest", "chdb": str(chdb_dir), "experiment": args.experiments}, args.timeout)
    log(f"{fmt_events(events)}: usage")
    usage = worker({**common, "stage": "usage", "chdb": str(chdb_dir), "experiment": args.experiments}, args.timeout)
    seconds = ingest["seconds"] + usage["seconds"] if "seconds" in ingest and "seconds" in usage else None
    return {"ingest": ingest, "usage": usage, "seconds": seconds}


def fastest_run(runs: list[dict]) -> dict:
    """The hour's figures from its runs: the fastest run's stages, the highest peak RSS of any run,
    every run's total. A failed run (no seconds) fails the hour: its stages, with their error, stand."""
    failed = [r for r in runs if r["seconds"] is None]
    best = failed[0] if failed else min(runs, key=lambda r: r["seconds"])
    out = {
        "ingest": dict(best["ingest"]),
        "usage": dict(best["usage"]),
        "pipeline_seconds": best["seconds"],
        "pipeline_runs": [r["seconds"] for r in runs],
    }
    for stage in ("ingest", "usage"):
        peaks = [r[stage]["peak_rss"] for r in runs if r[stage].get("peak_rss")]
        if peaks:
            out[stage]["peak_rss"] = max(peaks)
    return out


def run_hour(events: int, args, work: Path, optional_groups: dict[str, list[str]], s3: "S3Landing | None" = None) -> dict:
    """The floor (best of 3 in one process), then the pipeline `args.repeat` times (each run on a
    fresh chDB directory, in fresh processes): the hour's figures are its fastest run, as the
    floor's are, so OS noise on this shared machine weighs on both sides alike. Every run's
    total is kept, every run is checked against the manifest, and peak RSS is the highest of them.

    With `s3`, the same files are landed in a moto server on loopback first, and both the floor
    (`s3()`) and the pipeline read them from there: the S3 row has its own ratio."""
    landing, manifest = ensure_hour(events, args.seed)
    folder = hour_folder(landing, BENCH_HOUR)
    landing_url, glob, function = str(landing), str(folder) + "/*", "file"
    if s3 is not None:
        landing_url, glob, function = s3.land(landing, folder)
    common = {"hour": BENCH_HOUR.isoformat(), "landing": landing_url, "events": events}
    out = {
        "events": events,
        "landing_kind": "local" if s3 is None else "S3",
        "manifest": {k: v for k, v in manifest.items() if k != "files"},
        "files": len(manifest["files"]),
        "gzip_files": sum(f["compressed"] for f in manifest["files"]),
    }

    log(f"{fmt_events(events)}: floor")
    out["floor"] = worker(
        {
            **common,
            "stage": "floor",
            "chdb": str(work / f"floor-{events}"),
            "glob": glob,
            "function": function,
            "variants": ["line", "jsoneachrow"] if s3 is None else ["line"],
            "event_types": list(GENERATED_TYPES),
        },
        args.timeout,
    )
    shutil.rmtree(work / f"floor-{events}", ignore_errors=True)
    runs, problems, out["other"] = [], [], {}
    repeat = max(args.repeat, 1)
    for attempt in range(repeat):
        chdb_dir = work / f"ch-{events}-{attempt}"
        log(f"{fmt_events(events)}: ingest + validate (run {attempt + 1} of {repeat})")
        run = run_pipeline(events, args, common, chdb_dir)
        runs.append(run)
        problems += manifest_check(manifest, run["ingest"], run["usage"]) if run["seconds"] else ["stage failed"]
        for group, keys in optional_groups.items() if attempt == repeat - 1 and s3 is None else ():  # once, on the last run's tables
            log(f"{fmt_events(events)}: {group} (through Dagster)")
            out["other"][group] = worker(
                {**common, "stage": "dagster", "chdb": str(chdb_dir), "assets": keys, "export": str(work / f"export-{events}")},
                args.timeout,
            )
        shutil.rmtree(chdb_dir, ignore_errors=True)
    shutil.rmtree(work / f"export-{events}", ignore_errors=True)

    out.update(fastest_run(runs))
    floor_s = (out["floor"].get("variants") or {}).get("line", {}).get("seconds")
    pipeline_s = out["pipeline_seconds"]
    out["floor_seconds"] = floor_s
    out["ratio"] = round(pipeline_s / floor_s, 2) if pipeline_s and floor_s else None
    out["check"] = sorted(set(problems), key=problems.index)
    log(
        f"{fmt_events(events)}: pipeline {secs(pipeline_s)} s (runs {', '.join(secs(r) for r in out['pipeline_runs'])}), "
        f"floor {secs(floor_s)} s, ratio {out['ratio']}"
    )
    return out


def run_backfill(args, work: Path, groups: dict[str, list[str]], hours: int, with_export: bool) -> dict:
    first = BENCH_HOUR - timedelta(hours=args.backfill_hours)  # the same landed month; a slice starts at its start
    log(f"backfill: data for {args.backfill_hours} hours x {fmt_events(args.backfill_events)} events")
    started = time.monotonic()
    landing, summary = ensure_backfill(args.backfill_hours, args.backfill_events, args.seed, first)
    generated = time.monotonic() - started
    core = [k for g in ("ingest", "usage") for k in groups.get(g, [])] or list(CORE_ASSETS)
    keys = core + (groups.get("export", []) if with_export else [])
    log(f"backfill: one single-run backfill of {hours} hours: {', '.join(keys)}")
    result = worker(
        {
            "stage": "dagster",
            "chdb": str(work / "ch-backfill"),
            "landing": str(landing),
            "export": str(work / "export-backfill"),
            "hour": first.isoformat(),
            "hours": hours,
            "assets": keys,
            "count_tables": True,
            "experiment": args.experiments,
        },
        args.backfill_timeout,
    )
    shutil.rmtree(work / "ch-backfill", ignore_errors=True)
    shutil.rmtree(work / "export-backfill", ignore_errors=True)
    per_hour = summary["lines"] // max(args.backfill_hours, 1)
    summary = {
        **summary,
        "lines": per_hour * hours,
        "accepted": summary["accepted"] * hours // args.backfill_hours,
        "raw_bytes": summary["raw_bytes"] * hours // args.backfill_hours,
        "files": summary["files"] * hours // args.backfill_hours,
    }
    result.update(
        {
            "hours": hours,
            "events_per_hour": args.backfill_events,
            "assets": keys,
            "summary": summary,
            "generate_seconds": round(generated, 1),
            "first_hour": first.isoformat(),
        }
    )
    log(
        f"backfill: {secs(result.get('seconds'))} s, runs launched {result.get('runs_launched')}"
        + (f", {result['error'][:120]}" if result.get("error") else "")
    )
    return result


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000,5000000,20000000", help="events per hour, comma-separated")
    parser.add_argument("--s3-size", type=int, default=1_000_000, help="also read this hour from S3 (moto on loopback); 0 skips")
    parser.add_argument("--backfill-hours", type=int, default=720)
    parser.add_argument("--backfill-events", type=int, default=20_000)
    parser.add_argument(
        "--export-backfill-hours", type=int, default=72, help="also backfill this many hours with the billing export included (0 to skip)"
    )
    parser.add_argument("--profile-size", type=int, default=1_000_000, help="hour size to profile; 0 to skip")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 20K and 100K hours, 24-hour backfill of 2K events, profile 100K; writes benchmarks/data/RESULTS-quick.md",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each hour's pipeline (each on a fresh chDB directory); the fastest counts, as the floor's best of 3 does",
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per stage")
    parser.add_argument("--backfill-timeout", type=float, default=3 * 3600)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--work-dir", type=Path, default=None, help="where chDB directories go (default: a temp dir)")
    parser.add_argument("--skip-other-assets", action="store_true", help="do not run export / dbt stages even if defined")
    parser.add_argument(
        "--code-root", type=Path, default=None, help="import metering_pipeline from this checkout instead (compare a change against HEAD)"
    )
    parser.add_argument(
        "--rss-limit-gib",
        type=float,
        default=8.0,
        help="kill a stage whose RSS passes this (the machine is shared); reported as not completed",
    )
    parser.add_argument(
        "--experiment",
        default="",
        help="comma-separated candidate optimizations to patch into the ingest stage "
        "(benchmarks/experiments.py: gx-narrow); results go to benchmarks/data/",
    )
    parser.add_argument(
        "--render",
        type=Path,
        default=None,
        help="only rewrite --output (and, for RESULTS.md, the README block) from a run's saved JSON (see results_json)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.argv = list(argv)
    if args.quick:
        given = set(a.split("=")[0] for a in argv)
        if "--sizes" not in given:
            args.sizes = "20000,100000"
        if "--backfill-hours" not in given:
            args.backfill_hours = 24
        if "--backfill-events" not in given:
            args.backfill_events = 2_000
        if "--profile-size" not in given:
            args.profile_size = 100_000
        if "--export-backfill-hours" not in given:
            args.export_backfill_hours = 6
        if "--s3-size" not in given:
            args.s3_size = 20_000
    args.size_list = [int(s) for s in args.sizes.split(",") if s.strip()]
    args.experiments = [e.strip() for e in args.experiment.split(",") if e.strip()]
    if args.output is None:
        if args.experiments:
            args.output = DATA_ROOT / f"RESULTS-{'+'.join(args.experiments)}{'-quick' if args.quick else ''}.md"
        else:
            args.output = DATA_ROOT / "RESULTS-quick.md" if args.quick else RESULTS
    return args


def results_json(output: Path) -> Path:
    """Where a run saves its measurements for `--render`: beside its own report, so a partial run
    (`--sizes 1000000 --output /tmp/x.md`) never overwrites the full run's JSON that RESULTS.md
    was rendered from. The full report's JSON stays in benchmarks/data/, out of git."""
    return DATA_ROOT / "results.json" if output == RESULTS else output.with_suffix(".json")


def check_disk(args) -> None:
    need = sum(args.size_list) * 240 * 1.3 + args.backfill_hours * args.backfill_events * 240 * 0.8
    need += max(args.size_list + [0]) * 240 * 3  # chDB staging of the largest hour
    free = shutil.disk_usage(DATA_ROOT.parent).free
    log(f"disk: {free / 2**30:.0f} GiB free, about {need / 2**30:.1f} GiB needed (data cached in {DATA_ROOT})")
    if free < need:
        raise SystemExit(f"not enough disk space: {free / 2**30:.1f} GiB free, about {need / 2**30:.1f} GiB needed")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.worker:
        worker_main(args.worker)
        return
    if args.render:
        saved = json.loads(args.render.read_text())
        args.argv = saved.get("argv", [])
        load = tuple(saved.get("load", ["?", "?"]))
        stamp = datetime.fromtimestamp(args.render.stat().st_mtime, UTC)
        started = datetime.fromisoformat(saved["started"]) if saved.get("started") else stamp
        finished = datetime.fromisoformat(saved["finished"]) if saved.get("finished") else stamp
        text = write_results(
            args.output,
            saved["machine"],
            saved["hours"],
            saved["exponents"],
            saved["backfill"],
            saved["profile"],
            args,
            started,
            finished,
            load,
            saved.get("export_backfill"),
        )
        if args.output == RESULTS and not args.quick:
            update_readme(saved["hours"], saved["exponents"].get("pipeline"), saved["backfill"], f"{started:%Y-%m-%d}")
        print(text)
        return
    global CODE_ROOT, RSS_LIMIT
    RSS_LIMIT = int(args.rss_limit_gib * 2**30)
    if args.code_root:
        CODE_ROOT = args.code_root.resolve()
    started = datetime.now(UTC)
    load_start = loadavg()
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    check_disk(args)
    info = machine()
    work_parent = args.work_dir or Path(tempfile.gettempdir())
    work_parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="metering-bench-", dir=work_parent))
    try:
        for events in args.size_list:
            t0 = time.monotonic()
            ensure_hour(events, args.seed)
            log(f"data: {fmt_events(events)} hour ready ({time.monotonic() - t0:.1f} s)")
        # The groups name the assets a backfill materializes, so they are read even with
        # --skip-other-assets, which only leaves the optional groups unmeasured.
        found = worker({"stage": "assets", "chdb": str(work / "ch-assets"), "landing": str(work / "none")}, 600)
        groups = found.get("groups", {})
        optional = (
            {}
            if args.skip_other_assets
            else {g: keys for g, keys in groups.items() if g not in ("ingest", "usage") and not set(keys) <= set(CORE_ASSETS)}
        )
        if optional:
            log(f"other asset groups measured through Dagster: {optional}")
        hours = [run_hour(events, args, work, optional) for events in args.size_list]
        local = list(hours)
        if args.s3_size:
            with S3Landing() as s3:
                log(f"{fmt_events(args.s3_size)} from S3: landing in moto at {s3.endpoint}")
                hours.append(run_hour(args.s3_size, args, work, optional, s3))
        exponents = {
            "pipeline": fit_exponent([(h["events"], h["pipeline_seconds"]) for h in local]),
            "ingest + validate": fit_exponent([(h["events"], h["ingest"].get("seconds")) for h in local]),
            "floor": fit_exponent([(h["events"], h["floor_seconds"]) for h in local]),
        }
        profile = None
        if args.profile_size and importlib.util.find_spec("pyinstrument") is None:
            log("profile skipped: pyinstrument is not installed (pip install pyinstrument)")
        elif args.profile_size:
            landing, _ = ensure_hour(args.profile_size, args.seed)
            log(f"profile: {fmt_events(args.profile_size)} hour under pyinstrument")
            output = DATA_ROOT / f"profile-{args.profile_size}.txt"
            profile = worker(
                {
                    "stage": "profile",
                    "chdb": str(work / "ch-profile"),
                    "landing": str(landing),
                    "hour": BENCH_HOUR.isoformat(),
                    "output": str(output),
                    "experiment": args.experiments,
                },
                args.timeout,
            )
            profile["events"] = args.profile_size
            shutil.rmtree(work / "ch-profile", ignore_errors=True)
        backfill = run_backfill(args, work, groups, args.backfill_hours, False) if args.backfill_hours > 0 else None
        export_backfill = None
        if args.backfill_hours > 0 and args.export_backfill_hours > 0 and groups.get("export"):
            export_backfill = run_backfill(args, work, groups, min(args.export_backfill_hours, args.backfill_hours), True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    finished = datetime.now(UTC)
    load_end = loadavg()
    results_json(args.output).write_text(
        json.dumps(
            {
                "hours": hours,
                "exponents": exponents,
                "backfill": backfill,
                "export_backfill": export_backfill,
                "profile": profile,
                "machine": info,
                "argv": args.argv,
                "started": started.isoformat(),
                "finished": finished.isoformat(),
                "load": [load_start, load_end],
            },
            indent=1,
            default=str,
        )
    )
    text = write_results(
        args.output, info, hours, exponents, backfill, profile, args, started, finished, (load_start, load_end), export_backfill
    )
    if not args.quick and not args.experiments and args.output == RESULTS:
        update_readme(hours, exponents.get("pipeline"), backfill, f"{started:%Y-%m-%d}")
    print()
    print(text)
    log(f"written {args.output} ({(finished - started).total_seconds() / 60:.1f} min)")


if __name__ == "__main__":
    main()
