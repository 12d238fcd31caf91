"""`python -m benchmarks.run` (make bench): the pipeline against the engine floor, and a month backfill.

For each size (default 100K, 1M, 5M events): generate the hour once (cached under
benchmarks/data/), then run, each in a fresh process on the same files:
  floor   one chDB statement: read, dedup on (source, id), aggregate the meters (benchmarks/floor.py)
  ingest  `ingest_hour`: landing files -> lines -> GX validation -> events + quarantine (ingest + validate)
  usage   `build_usage_hour` + `count_mismatches`, as the usage_hourly asset does
  other   assets of the real definitions outside ingest/usage (billing export, dbt marts) when present,
          through Dagster for the one partition
and report wall seconds, events/s and peak RSS per stage, the ratio pipeline / floor, and the
scaling exponent of time against events. Then profile the 1M hour (pyinstrument) and run the
backfill: N hours of M events each as ONE single-run backfill of the real Dagster job.

Results go to benchmarks/RESULTS.md (with --quick: benchmarks/data/RESULTS-quick.md) and, when the
README has the markers `<!-- bench:begin -->` / `<!-- bench:end -->`, the summary table between them.
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
from datetime import datetime, timedelta, timezone
from pathlib import Path

from benchmarks.generate import BENCH_HOUR, DATA_ROOT, ensure_backfill, ensure_hour, hour_folder

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
README = REPO / "README.md"
MARK_BEGIN, MARK_END = "<!-- bench:begin -->", "<!-- bench:end -->"
RESULT_PREFIX = "BENCH-RESULT "
CODE_ROOT = REPO  # where metering_pipeline is imported from in the workers (--code-root)
RSS_LIMIT = 8 * 2**30  # a worker past this is killed (--rss-limit-gib)
GENERATED_TYPES = ("gateway.request", "gateway.connection", "api.call")
CORE_ASSETS = ("accepted_events", "quarantined_lines", "usage_hourly")
BACKFILL_GROUPS = ("ingest", "usage", "export")

TARGETS = {
    "ratio": 5.0,
    "ratio_stretch": 3.0,
    "rss_5m_bytes": 2.5 * 2**30,
    "exponent": 1.1,
    "backfill_seconds": 15 * 60,
    "backfill_runs": 5,
}


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
        process = subprocess.Popen([sys.executable, "-m", "benchmarks.run", "--worker", json.dumps(spec)],
                                   cwd=REPO, env=env, stdout=out, stderr=err, text=True)
        while process.poll() is None:
            rss = _rss_of(process.pid)
            sampled = max(sampled, rss)
            elapsed = time.monotonic() - started
            if rss > RSS_LIMIT or elapsed > timeout:
                killed = (f"RSS passed the {RSS_LIMIT / 2**30:.1f} GiB guard" if rss > RSS_LIMIT
                          else f"timed out after {timeout:.0f}s")
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
            result = json.loads(line[len(RESULT_PREFIX):])
            result["process_seconds"] = round(time.monotonic() - started, 3)
            result["sampled_peak_rss"] = sampled
            return result
    tail = (stderr or stdout)[-2500:]
    return {"error": f"stage {spec['stage']} failed (exit {process.returncode}): {tail}"}


def worker_main(raw: str) -> None:
    if os.environ.get("BENCH_CODE_ROOT"):  # before anything imports metering_pipeline
        sys.path.insert(0, os.environ["BENCH_CODE_ROOT"])
    from benchmarks.stages import run_stage

    result = run_stage(json.loads(raw))
    sys.stdout.flush()
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)


# --- helpers -------------------------------------------------------------------------------------

def log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", flush=True)


def fmt_events(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}K"
    return str(n)


def gib(n: int | float | None) -> str:
    return "-" if not n else f"{n / 2**30:.2f} GiB"


def mib(n: int | float | None) -> str:
    return "-" if not n else f"{n / 2**20:.0f} MiB"


def secs(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def num(x) -> str:
    return f"{x:,}" if isinstance(x, int) else "-"


def rate(events: int, seconds: float | None) -> str:
    return "-" if not seconds else f"{events / seconds:,.0f}"


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
    info = {"python": platform.python_version(), "platform": platform.platform(), "cores": os.cpu_count()}
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
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True)
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


def run_hour(events: int, args, work: Path, optional_groups: dict[str, list[str]]) -> dict:
    landing, manifest = ensure_hour(events, args.seed)
    folder = hour_folder(landing, BENCH_HOUR)
    chdb_dir = work / f"ch-{events}"
    common = {"hour": BENCH_HOUR.isoformat(), "landing": str(landing), "events": events}
    out = {"events": events, "manifest": {k: v for k, v in manifest.items() if k != "files"},
           "files": len(manifest["files"]), "gzip_files": sum(f["compressed"] for f in manifest["files"])}

    log(f"{fmt_events(events)}: floor")
    out["floor"] = worker({**common, "stage": "floor", "chdb": str(work / f"floor-{events}"),
                           "glob": str(folder) + "/*", "variants": ["line", "jsoneachrow"],
                           "event_types": list(GENERATED_TYPES)}, args.timeout)
    shutil.rmtree(work / f"floor-{events}", ignore_errors=True)
    log(f"{fmt_events(events)}: ingest + validate")
    out["ingest"] = worker({**common, "stage": "ingest", "chdb": str(chdb_dir), "experiment": args.experiments}, args.timeout)
    log(f"{fmt_events(events)}: usage")
    out["usage"] = worker({**common, "stage": "usage", "chdb": str(chdb_dir), "experiment": args.experiments}, args.timeout)
    out["other"] = {}
    for group, keys in optional_groups.items():
        log(f"{fmt_events(events)}: {group} (through Dagster)")
        out["other"][group] = worker({**common, "stage": "dagster", "chdb": str(chdb_dir), "assets": keys,
                                      "export": str(work / f"export-{events}")}, args.timeout)
    shutil.rmtree(chdb_dir, ignore_errors=True)
    shutil.rmtree(work / f"export-{events}", ignore_errors=True)

    floor_s = (out["floor"].get("variants") or {}).get("line", {}).get("seconds")
    pipeline_s = None
    if "seconds" in out["ingest"] and "seconds" in out["usage"]:
        pipeline_s = out["ingest"]["seconds"] + out["usage"]["seconds"]
    out["pipeline_seconds"] = pipeline_s
    out["floor_seconds"] = floor_s
    out["ratio"] = round(pipeline_s / floor_s, 2) if pipeline_s and floor_s else None
    out["check"] = manifest_check(manifest, out["ingest"], out["usage"]) if pipeline_s else ["stage failed"]
    log(f"{fmt_events(events)}: pipeline {secs(pipeline_s)} s, floor {secs(floor_s)} s, ratio {out['ratio']}")
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
    result = worker({"stage": "dagster", "chdb": str(work / "ch-backfill"), "landing": str(landing),
                     "export": str(work / "export-backfill"), "hour": first.isoformat(),
                     "hours": hours, "assets": keys, "count_tables": True,
                     "experiment": args.experiments}, args.backfill_timeout)
    shutil.rmtree(work / "ch-backfill", ignore_errors=True)
    shutil.rmtree(work / "export-backfill", ignore_errors=True)
    per_hour = summary["lines"] // max(args.backfill_hours, 1)
    summary = {**summary, "lines": per_hour * hours, "accepted": summary["accepted"] * hours // args.backfill_hours,
               "raw_bytes": summary["raw_bytes"] * hours // args.backfill_hours,
               "files": summary["files"] * hours // args.backfill_hours}
    result.update({"hours": hours, "events_per_hour": args.backfill_events, "assets": keys,
                   "summary": summary, "generate_seconds": round(generated, 1), "first_hour": first.isoformat()})
    log(f"backfill: {secs(result.get('seconds'))} s, runs launched {result.get('runs_launched')}"
        + (f", {result['error'][:120]}" if result.get("error") else ""))
    return result


# --- report --------------------------------------------------------------------------------------

def summary_table(hours: list[dict]) -> list[str]:
    rows = ["| events in the hour | NDJSON | floor (s) | ingest + validate (s) | usage (s) | pipeline (s) | ratio pipeline / floor | pipeline events/s | peak RSS ingest | peak RSS usage | peak RSS floor |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for h in hours:
        ing, use, flo = h["ingest"], h["usage"], h["floor"]
        rows.append(
            f"| {fmt_events(h['events'])} | {mib(h['manifest']['raw_bytes'])} | {secs(h['floor_seconds'])} | "
            f"{secs(ing.get('seconds'))} | {secs(use.get('seconds'))} | {secs(h['pipeline_seconds'])} | "
            f"**{h['ratio'] if h['ratio'] is not None else '-'}** | {rate(h['events'], h['pipeline_seconds'])} | "
            f"{gib(ing.get('peak_rss'))} | {gib(use.get('peak_rss'))} | {gib(flo.get('peak_rss'))} |"
        )
    return rows


def targets(hours: list[dict], exponent: float | None, backfill: dict | None) -> list[str]:
    def verdict(ok):
        return "-" if ok is None else ("met" if ok else "**not met**")

    lines = ["| target | measured | verdict |", "|---|---|---|"]
    one = next((h for h in hours if h["events"] == 1_000_000), None)
    if one:
        r = one["ratio"]
        lines.append(f"| 1M hour within 5x of the floor (stretch 3x) | {r}x | "
                     f"{verdict(None if r is None else r <= TARGETS['ratio'])}"
                     f"{' (stretch met)' if r is not None and r <= TARGETS['ratio_stretch'] else ''} |")
    five = next((h for h in hours if h["events"] == 5_000_000), None)
    if five:
        peak = max(five["ingest"].get("peak_rss") or 0, five["usage"].get("peak_rss") or 0)
        ok = None if not peak else (peak < TARGETS["rss_5m_bytes"] and five["pipeline_seconds"] is not None)
        killed = next((s for s in (five["ingest"], five["usage"]) if s.get("killed")), None)
        shown = f"killed past {RSS_LIMIT / 2**30:.1f} GiB ({killed['error'].split(':')[0]})" if killed else gib(peak)
        lines.append(f"| 5M hour completes, peak RSS < 2.5 GiB | {shown} | {verdict(False if killed else ok)} |")
    if exponent is not None:
        lines.append(f"| time linear in events (exponent <= 1.1) | {exponent:.2f} | {verdict(exponent <= TARGETS['exponent'])} |")
    if backfill and "seconds" in backfill:
        ok = backfill["seconds"] < TARGETS["backfill_seconds"] and backfill["runs_launched"] <= TARGETS["backfill_runs"] and backfill["success"]
        lines.append(f"| {backfill['hours']}-hour backfill of {fmt_events(backfill['events_per_hour'])}-event hours under 15 min, a handful of runs | "
                     f"{backfill['seconds'] / 60:.1f} min, {backfill['runs_launched']} run(s) | {verdict(ok)} |")
    return lines


def write_results(path: Path, info: dict, hours: list[dict], exponents: dict, backfill: dict | None,
                  profile: dict | None, args, started: datetime, finished: datetime, load: tuple[str, str],
                  export_backfill: dict | None = None) -> str:
    out = ["# Benchmark results", "",
           f"Generated by `python -m benchmarks.run {' '.join(args.argv)}`".rstrip() + " (`make bench`); do not edit by hand.", "",
           f"- date: {started:%Y-%m-%d %H:%M} to {finished:%H:%M} UTC",
           f"- machine: {info.get('cpu', '?')}, {info.get('cores')} cores, {info.get('memory', '?')} RAM; {info.get('platform')}",
           f"- load average (1/5/15 min) at start: {load[0]}; at end: {load[1]} (the machine is shared: other processes compete for the 2 cores)",
           f"- versions: Python {info.get('python')}, chDB {info.get('chdb')} (ClickHouse {info.get('clickhouse', '?')}), "
           f"clickhouse-connect {info.get('clickhouse-connect')}, pyarrow {info.get('pyarrow')}, pandas {info.get('pandas')}, "
           f"great-expectations {info.get('great-expectations')}, dagster {info.get('dagster')}, numpy {info.get('numpy')}",
           f"- code: commit {info.get('commit', '?')}",
           f"- data: generator seed {args.seed}; {hours[0]['manifest']['bytes_per_event'] if hours else '?'} bytes/event; "
           "500 tenants (Zipf 1.1), ~1 % bad lines of every line-level quarantine reason, ~0.5 % duplicates, plain + gzip files",
           "", "## Summary", ""]
    out += targets(hours, exponents.get("pipeline"), backfill)
    out += ["", "## One hour: pipeline against the engine floor", ""]
    out += summary_table(hours)
    out += ["",
            "Each stage runs in a fresh process on the same files; wall time excludes process start, imports, opening chDB "
            "and the great-expectations import (shown below), which a Dagster run pays once for all its hours. "
            "*Pipeline* = ingest + validate (`ingest_hour`) + usage (`build_usage_hour` and the `event_counts_match` check). "
            "*Floor* = the best of 3 runs (same process) of one chDB statement reading the same files line by line (`LineAsString` + one `JSONExtract` per line), "
            "keeping plausible in-hour events of the catalog's types, `LIMIT 1 BY source, id`, and aggregating the meters per tenant "
            "and hour (benchmarks/floor.py). Peak RSS is each process's own high-water mark (ru_maxrss).", ""]
    if exponents:
        parts = [f"{name} {value:.2f}" for name, value in exponents.items() if value is not None]
        out += [f"Scaling exponent (least-squares slope of log seconds against log events over {', '.join(fmt_events(h['events']) for h in hours)}): "
                + "; ".join(parts) + ".", ""]

    labels = {"load": "load: files -> lines", "map": "map: lines -> canonical rows (SQL)",
              "frame": "validation frame: SQL -> Arrow", "validate": "GX `validate_frame`",
              "rest": "rest: to_pandas, verdicts, accepted + quarantine inserts, counts, swaps"}
    keys = [k for k in labels if any(k in (h["ingest"].get("split") or {}) for h in hours)]
    out += ["### Inside ingest + validate", "",
            "| events | " + " | ".join(f"{labels[k]} (s)" for k in keys)
            + " | GX import + context, once per process (s) | chDB open (s) |",
            "|---:|" + "---:|" * (len(keys) + 2)]
    for h in hours:
        s = h["ingest"].get("split") or {}
        ing = h["ingest"]
        out.append(f"| {fmt_events(h['events'])} | " + " | ".join(secs(s.get(k)) for k in keys)
                   + f" | {secs((ing.get('gx_import_seconds') or 0) + (ing.get('gx_context_seconds') or 0))} | "
                   f"{secs(ing.get('open_seconds'))} |")
    raised = [(h["events"], h["ingest"].get("peak_raised") or {}) for h in hours]
    if any(r for _, r in raised):
        out += ["", "Peak RSS raised by each step (how much higher the process's high-water mark was after it): "
                + "; ".join(f"{fmt_events(e)}: " + ", ".join(f"{k} {mib(v)}" for k, v in r.items()) for e, r in raised) + "."]
    if args.experiments:
        out += ["", f"Experiments patched into the pipeline: {', '.join(args.experiments)} (benchmarks/experiments.py)."]
    biggest = max((h for h in hours if h["ingest"].get("statements")), key=lambda h: h["events"], default=None)
    if biggest:
        out += ["", f"Slowest statements of the {fmt_events(biggest['events'])} hour (ingest, then usage):", "",
                "| seconds | calls | raised the process's peak RSS by | statement |", "|---:|---:|---:|---|"]
        for entry in biggest["ingest"]["statements"][:8] + (biggest["usage"].get("statements") or [])[:3]:
            text = entry["statement"].replace("|", "\\|")
            out.append(f"| {entry['seconds']:.2f} | {entry['calls']} | {mib(entry.get('peak_raised'))} | `{text}` |")

    out += ["", "### Floor variants and correctness", "",
            "| events | floor `LineAsString` (s) | floor `JSONEachRow` (s) | events the floor aggregated | pipeline accepted | pipeline = generator's manifest |",
            "|---:|---:|---:|---:|---:|---|"]
    for h in hours:
        v = h["floor"].get("variants") or {}
        check = "yes" if not h["check"] else "; ".join(h["check"][:6]).replace("|", "/")
        out.append(f"| {fmt_events(h['events'])} | {secs(v.get('line', {}).get('seconds'))} | "
                   f"{secs(v.get('jsoneachrow', {}).get('seconds'))} | {num(v.get('line', {}).get('events'))} | "
                   f"{num((h['ingest'].get('report') or {}).get('accepted'))} | {check} |")
    out += ["", "The floor's light filters (specversion, non-empty keys, known type, in-hour time) let through the few bad lines "
            "whose fault only validation sees (wrong JSON types, bad values), so it aggregates slightly more events than the "
            "pipeline accepts. `JSONEachRow` is faster but not line-exact: a truncated line swallows the next one.", ""]
    errors = [(h["events"], name, stage["error"]) for h in hours for name, stage in
              [("floor", h["floor"]), ("ingest", h["ingest"]), ("usage", h["usage"]), *h["other"].items()] if "error" in stage]
    others = [(h["events"], g, r) for h in hours for g, r in h["other"].items() if "error" not in r]
    if others:
        out += ["### Other assets of the hour (through Dagster, one partition)", "",
                "| events | group | seconds (one Dagster run, overhead included) | success | peak RSS | peak RSS of its subprocesses (dbt) |",
                "|---:|---|---:|---|---:|---:|"]
        for events, group, r in others:
            out.append(f"| {fmt_events(events)} | {group} | {secs(r.get('seconds'))} | {r.get('success')} | {gib(r.get('peak_rss'))} | "
                       f"{gib(r.get('children_peak_rss'))} |")
        out.append("")

    runs = [b for b in (backfill, export_backfill) if b]
    if runs:
        out += ["## Backfill", "",
                "Each row is ONE single-run backfill over the range (`dagster/asset_partition_range_start`/`_end` tags, "
                "`execute_in_process` of a job over the project's own definitions and resources), in a fresh process, "
                f"on generated hours of {fmt_events(runs[0]['events_per_hour'])} events. RSS growth is (peak - RSS before the run) / hours.", "",
                "| hours | assets | wall | runs launched | per hour | events/s | peak RSS | RSS growth per hour | success | events / quarantine / usage rows written |",
                "|---:|---|---:|---:|---:|---:|---:|---:|---|---|"]
        notes = []
        for b in runs:
            s = b["summary"]
            t = b.get("tables") or {}
            assets = ", ".join(b["assets"])
            if "seconds" in b:
                growth = ((b.get("peak_rss") or 0) - (b.get("baseline_rss") or 0)) / b["hours"]
                out.append(f"| {b['hours']} | {assets} | {b['seconds'] / 60:.1f} min | {b['runs_launched']} | "
                           f"{b['seconds'] / b['hours']:.2f} s | {rate(s['lines'], b['seconds'])} | {gib(b.get('peak_rss'))} | "
                           f"{mib(growth)} | {b['success']} | {num(t.get('events'))} / {num(t.get('quarantine'))} / "
                           f"{num(t.get('usage_hourly'))} |")
                if t and t.get("events") != s["accepted"]:
                    notes.append(f"{b['hours']}-hour run: {t.get('events')} events written, the generator made {s['accepted']} valid and unique.")
                if b.get("failures"):
                    notes.append(f"{b['hours']}-hour run failures: " + "; ".join(b["failures"]))
            else:
                out.append(f"| {b['hours']} | {assets} | not completed | - | - | - | {gib(b.get('peak_rss'))} | - | False | - |")
                notes.append(f"{b['hours']}-hour run: {b.get('error', '')[:600]}")
        out += [""] + [f"- {n}" for n in notes] + ([""] if notes else [])

    if profile:
        out += ["## Where the time goes", ""]
        if "summary" in profile:
            p = profile["summary"]
            total = p["total_seconds"] or 1
            out += [f"pyinstrument over `ingest_hour` + `build_usage_hour` of the {fmt_events(profile['events'])} hour "
                    f"({p['total_seconds']:.1f} s sampled; full tree in `{Path(profile['output']).relative_to(REPO)}`).", "",
                    "| where | seconds | share |", "|---|---:|---:|"]
            inside = sum(p.get("validate_by_library", {}).values())
            out.append(f"| **inside GX `validate_frame`** | **{inside:.2f}** | **{100 * inside / total:.0f} %** |")
            for lib, value in list(p.get("validate_by_library", {}).items())[:5]:
                out.append(f"| &nbsp;&nbsp;{lib} | {value:.2f} | {100 * value / total:.0f} % |")
            outside = sum(p["by_library"].values())
            out.append(f"| **everything else** | **{outside:.2f}** | **{100 * outside / total:.0f} %** |")
            for lib, value in list(p["by_library"].items())[:6]:
                out.append(f"| &nbsp;&nbsp;{lib} | {value:.2f} | {100 * value / total:.0f} % |")
            out += ["", "| calls under `ingest_hour` | seconds |", "|---|---:|"]
            for call, value in list(p["ingest_calls"].items())[:8]:
                out.append(f"| `{call}` | {value:.2f} |")
            if p.get("validate_seconds"):
                out += ["", f"Of the {p['validate_seconds']:.1f} s in `validate_frame`, {p['gx_mask_copy_seconds']:.1f} s is pandas copying the "
                        f"whole batch through boolean masks (`DataFrame._getitem_bool_array`: GX filters the full frame, every column, for "
                        f"each metric of each expectation) and {p['gx_batch_hash_seconds']:.1f} s is GX hashing the batch "
                        "(`hash_pandas_object`) to name it.", ""]
        else:
            out += [f"Profile failed: {profile.get('error', '')[:1500]}", ""]
        findings = Path(__file__).with_name("FINDINGS.md")
        if findings.exists():
            out += [findings.read_text().strip(), ""]
    if errors:
        out += ["## Errors", ""] + [f"- {fmt_events(e)} {name}: `{msg[:800]}`" for e, name, msg in errors] + [""]
    text = "\n".join(out).rstrip() + "\n"
    path.write_text(text)
    return text


def update_readme(hours: list[dict], exponent, backfill, stamp: str) -> bool:
    try:
        text = README.read_text()
    except OSError:
        return False
    if MARK_BEGIN not in text or MARK_END not in text:
        return False
    block = [MARK_BEGIN, f"Latest `make bench` ({stamp}, full results in [benchmarks/RESULTS.md](benchmarks/RESULTS.md)):", ""]
    block += targets(hours, exponent, backfill) + [""] + summary_table(hours) + [MARK_END]
    head, rest = text.split(MARK_BEGIN, 1)
    tail = rest.split(MARK_END, 1)[1]
    README.write_text(head + "\n".join(block) + tail)
    return True


# --- main ----------------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000,5000000", help="events per hour, comma-separated")
    parser.add_argument("--backfill-hours", type=int, default=720)
    parser.add_argument("--backfill-events", type=int, default=20_000)
    parser.add_argument("--export-backfill-hours", type=int, default=72,
                        help="also backfill this many hours with the billing export included (0 to skip)")
    parser.add_argument("--profile-size", type=int, default=1_000_000, help="hour size to profile; 0 to skip")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 20K and 100K hours, 24-hour backfill of 2K events, profile 100K; "
                             "writes benchmarks/data/RESULTS-quick.md")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per stage")
    parser.add_argument("--backfill-timeout", type=float, default=3 * 3600)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--work-dir", type=Path, default=None, help="where chDB directories go (default: a temp dir)")
    parser.add_argument("--skip-other-assets", action="store_true", help="do not run export / dbt stages even if defined")
    parser.add_argument("--code-root", type=Path, default=None,
                        help="import metering_pipeline from this checkout instead (compare a change against HEAD)")
    parser.add_argument("--rss-limit-gib", type=float, default=8.0,
                        help="kill a stage whose RSS passes this (the machine is shared); reported as not completed")
    parser.add_argument("--experiment", default="",
                        help="comma-separated candidate optimizations to patch into the ingest stage "
                             "(benchmarks/experiments.py: gx-narrow, gx-suspects, usage-present-meters); results go to benchmarks/data/")
    parser.add_argument("--render", type=Path, default=None,
                        help="only rewrite the results file from a saved benchmarks/data/results*.json")
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
    args.size_list = [int(s) for s in args.sizes.split(",") if s.strip()]
    args.experiments = [e.strip() for e in args.experiment.split(",") if e.strip()]
    if args.output is None:
        if args.experiments:
            args.output = DATA_ROOT / f"RESULTS-{'+'.join(args.experiments)}{'-quick' if args.quick else ''}.md"
        else:
            args.output = DATA_ROOT / "RESULTS-quick.md" if args.quick else RESULTS
    return args


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
        stamp = datetime.fromtimestamp(args.render.stat().st_mtime, timezone.utc)
        started = datetime.fromisoformat(saved["started"]) if saved.get("started") else stamp
        finished = datetime.fromisoformat(saved["finished"]) if saved.get("finished") else stamp
        text = write_results(args.output, saved["machine"], saved["hours"], saved["exponents"], saved["backfill"],
                             saved["profile"], args, started, finished, load, saved.get("export_backfill"))
        if args.output == RESULTS and not args.quick:
            update_readme(saved["hours"], saved["exponents"].get("pipeline"), saved["backfill"], f"{started:%Y-%m-%d}")
        print(text)
        return
    global CODE_ROOT, RSS_LIMIT
    RSS_LIMIT = int(args.rss_limit_gib * 2**30)
    if args.code_root:
        CODE_ROOT = args.code_root.resolve()
    started = datetime.now(timezone.utc)
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
        groups = {}
        if not args.skip_other_assets:
            found = worker({"stage": "assets", "chdb": str(work / "ch-assets"), "landing": str(work / "none")}, 600)
            groups = found.get("groups", {})
        optional = {g: keys for g, keys in groups.items()
                    if g not in ("ingest", "usage") and not set(keys) <= set(CORE_ASSETS)}
        if optional:
            log(f"other asset groups measured through Dagster: {optional}")
        hours = [run_hour(events, args, work, optional) for events in args.size_list]
        exponents = {
            "pipeline": fit_exponent([(h["events"], h["pipeline_seconds"]) for h in hours]),
            "ingest + validate": fit_exponent([(h["events"], h["ingest"].get("seconds")) for h in hours]),
            "floor": fit_exponent([(h["events"], h["floor_seconds"]) for h in hours]),
        }
        profile = None
        if args.profile_size and importlib.util.find_spec("pyinstrument") is None:
            log("profile skipped: pyinstrument is not installed (pip install pyinstrument)")
        elif args.profile_size:
            landing, _ = ensure_hour(args.profile_size, args.seed)
            log(f"profile: {fmt_events(args.profile_size)} hour under pyinstrument")
            output = DATA_ROOT / f"profile-{args.profile_size}.txt"
            profile = worker({"stage": "profile", "chdb": str(work / "ch-profile"), "landing": str(landing),
                              "hour": BENCH_HOUR.isoformat(), "output": str(output),
                              "experiment": args.experiments}, args.timeout)
            profile["events"] = args.profile_size
            shutil.rmtree(work / "ch-profile", ignore_errors=True)
        backfill = run_backfill(args, work, groups, args.backfill_hours, False) if args.backfill_hours > 0 else None
        export_backfill = None
        if args.backfill_hours > 0 and args.export_backfill_hours > 0 and groups.get("export"):
            export_backfill = run_backfill(args, work, groups, min(args.export_backfill_hours, args.backfill_hours), True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    finished = datetime.now(timezone.utc)
    load_end = loadavg()
    (DATA_ROOT / ("results-quick.json" if args.quick else "results.json")).write_text(
        json.dumps({"hours": hours, "exponents": exponents, "backfill": backfill, "export_backfill": export_backfill,
                    "profile": profile, "machine": info, "argv": args.argv, "started": started.isoformat(),
                    "finished": finished.isoformat(), "load": [load_start, load_end]}, indent=1, default=str))
    text = write_results(args.output, info, hours, exponents, backfill, profile, args, started, finished,
                         (load_start, load_end), export_backfill)
    if not args.quick and not args.experiments and args.output == RESULTS:
        update_readme(hours, exponents.get("pipeline"), backfill, f"{started:%Y-%m-%d}")
    print()
    print(text)
    log(f"written {args.output} ({(finished - started).total_seconds() / 60:.1f} min)")


if __name__ == "__main__":
    main()
