"""The benchmark report: benchmarks/RESULTS.md and the README's summary table, from measured results.

Targets are reported as met or not; nothing here measures or asserts anything.
"""

from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
README = REPO / "README.md"
MARK_BEGIN, MARK_END = "<!-- bench:begin -->", "<!-- bench:end -->"

TARGETS = {  # issue 16's targets (engine-side ingestion)
    "ratio": 3.0,
    "ratio_stretch": 2.0,
    "ratio_5m": 3.5,
    "rss_5m_bytes": 1.5 * 2**30,
    "rss_20m_bytes": 2 * 2**30,
    "exponent": 1.1,
    "backfill_seconds": 15 * 60,
    "backfill_runs": 5,
}


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


def label(hour: dict) -> str:
    """The hour's row label: its size, and where it was landed when not in the local folder."""
    where = hour.get("landing_kind", "local")
    return fmt_events(hour["events"]) + ("" if where == "local" else f" from {where} (moto on loopback)")


def _peak(hour: dict) -> int:
    return max(hour["ingest"].get("peak_rss") or 0, hour["usage"].get("peak_rss") or 0)


def _killed(hour: dict) -> dict | None:
    return next((s for s in (hour["ingest"], hour["usage"]) if s.get("killed")), None)


def summary_table(hours: list[dict]) -> list[str]:
    rows = [
        "| events in the hour | NDJSON | floor (s) | ingest + validate (s) | usage (s) | pipeline (s) | ratio pipeline / floor | pipeline events/s | peak RSS ingest | peak RSS usage | peak RSS floor | every pipeline run (s) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for h in hours:
        ing, use, flo = h["ingest"], h["usage"], h["floor"]
        rows.append(
            f"| {label(h)} | {mib(h['manifest']['raw_bytes'])} | {secs(h['floor_seconds'])} | "
            f"{secs(ing.get('seconds'))} | {secs(use.get('seconds'))} | {secs(h['pipeline_seconds'])} | "
            f"**{h['ratio'] if h['ratio'] is not None else '-'}** | {rate(h['events'], h['pipeline_seconds'])} | "
            f"{gib(ing.get('peak_rss'))} | {gib(use.get('peak_rss'))} | {gib(flo.get('peak_rss'))} | "
            f"{', '.join(secs(r) for r in h.get('pipeline_runs') or [h['pipeline_seconds']])} |"
        )
    return rows


def targets(hours: list[dict], exponent: float | None, backfill: dict | None) -> list[str]:
    def verdict(ok):
        return "-" if ok is None else ("met" if ok else "**not met**")

    lines = ["| target | measured | verdict |", "|---|---|---|"]
    local = [h for h in hours if h.get("landing_kind", "local") == "local"]
    one = next((h for h in local if h["events"] == 1_000_000), None)
    if one:
        r, runs = one["ratio"], [x for x in one.get("pipeline_runs") or [] if x]
        spread = (
            f" (fastest of {len(runs)} runs; the slowest {max(runs) / one['floor_seconds']:.2f}x)"
            if len(runs) > 1 and r is not None
            else ""
        )
        lines.append(
            f"| 1M hour within {TARGETS['ratio']:g}x of the floor (moonshot {TARGETS['ratio_stretch']:g}x) | {r}x{spread} | "
            f"{verdict(None if r is None else r <= TARGETS['ratio'])}"
            f"{' (moonshot met)' if r is not None and r <= TARGETS['ratio_stretch'] else ''} |"
        )
    five = next((h for h in local if h["events"] == 5_000_000), None)
    if five:
        peak, killed, r = _peak(five), _killed(five), five["ratio"]
        ok = None if not peak or r is None else (peak < TARGETS["rss_5m_bytes"] and r <= TARGETS["ratio_5m"])
        shown = f"killed ({killed['error'].split(':')[0]})" if killed else f"{r}x, {gib(peak)}"
        lines.append(
            f"| 5M hour within {TARGETS['ratio_5m']:g}x, peak RSS < {gib(TARGETS['rss_5m_bytes'])} | {shown} | {verdict(False if killed else ok)} |"
        )
    twenty = next((h for h in local if h["events"] == 20_000_000), None)
    if twenty:
        peak, killed = _peak(twenty), _killed(twenty)
        ok = None if not peak else (peak < TARGETS["rss_20m_bytes"] and twenty["pipeline_seconds"] is not None and not twenty["check"])
        shown = f"killed ({killed['error'].split(':')[0]})" if killed else f"{secs(twenty['pipeline_seconds'])} s, {gib(peak)}"
        lines.append(f"| 20M hour completes, peak RSS < {gib(TARGETS['rss_20m_bytes'])} | {shown} | {verdict(False if killed else ok)} |")
    for h in hours:
        if h.get("landing_kind", "local") != "local":
            counted = "-" if h["ratio"] is None else ("counts = manifest" if not h["check"] else "**counts differ**")
            lines.append(f"| {label(h)}: its own ratio (no target) | {h['ratio']}x | {counted} |")
    if exponent is not None:
        lines.append(f"| time linear in events (exponent <= 1.1) | {exponent:.2f} | {verdict(exponent <= TARGETS['exponent'])} |")
    if backfill and "seconds" in backfill:
        ok = (
            backfill["seconds"] < TARGETS["backfill_seconds"]
            and backfill["runs_launched"] <= TARGETS["backfill_runs"]
            and backfill["success"]
        )
        lines.append(
            f"| {backfill['hours']}-hour backfill of {fmt_events(backfill['events_per_hour'])}-event hours under 15 min, a handful of runs | "
            f"{backfill['seconds'] / 60:.1f} min, {backfill['runs_launched']} run(s) | {verdict(ok)} |"
        )
    return lines


def write_results(
    path: Path,
    info: dict,
    hours: list[dict],
    exponents: dict,
    backfill: dict | None,
    profile: dict | None,
    args,
    started: datetime,
    finished: datetime,
    load: tuple[str, str],
    export_backfill: dict | None = None,
) -> str:
    out = [
        "# Benchmark results",
        "",
        f"Generated by `python -m benchmarks.run {' '.join(args.argv)}`".rstrip() + " (`make bench`); do not edit by hand.",
        "",
        f"- date: {started:%Y-%m-%d %H:%M} to {finished:%H:%M} UTC",
        f"- machine: {info.get('cpu', '?')}, {info.get('cores')} cores, {info.get('memory', '?')} RAM; {info.get('platform')}",
        f"- load average (1/5/15 min) at start: {load[0]}; at end: {load[1]} (the machine is shared: other processes compete for the 2 cores)",
        f"- versions: Python {info.get('python')}, chDB {info.get('chdb')} (ClickHouse {info.get('clickhouse', '?')}), "
        f"clickhouse-connect {info.get('clickhouse-connect')}, pyarrow {info.get('pyarrow')}, pandas {info.get('pandas')}, "
        f"great-expectations {info.get('great-expectations')}, dagster {info.get('dagster')}, numpy {info.get('numpy')}",
        f"- code: commit {info.get('commit', '?')}",
        f"- data: generator seed {args.seed}; {hours[0]['manifest']['bytes_per_event'] if hours else '?'} bytes/event; "
        "500 tenants (Zipf 1.1), ~1 % bad lines of every line-level quarantine reason, ~0.5 % duplicates, plain + gzip files",
        f"- reader: `METERING_INGEST_READER={info.get('reader', 'engine')}` (ingest/engine.py: the engine reads the landing files in place)",
        "",
        "## Summary",
        "",
    ]
    out += targets(hours, exponents.get("pipeline"), backfill)
    out += ["", "## One hour: pipeline against the engine floor", ""]
    out += summary_table(hours)
    out += [
        "",
        "Each stage runs in a fresh process on the same files; wall time excludes process start, imports (pandas included, "
        "which loading the Dagster definitions imports), opening chDB "
        "and the great-expectations import (shown below), which a Dagster run pays once for all its hours. "
        "*Pipeline* = ingest + validate (`ingest_hour`) + usage (what the usage_hourly step does: `build_usage_hour` with its "
        "quarter-hour windows, the `event_counts_match` and `quarter_hours_match_hour` checks, and tenant_periods), "
        "the fastest of the runs in the last column, each on a fresh chDB directory (the stage columns are that run's; "
        "peak RSS is the highest of all runs). "
        "*Floor* = likewise the best of 3 runs (same process) of one chDB statement reading the same files line by line "
        "(`LineAsString` + one `JSONExtract` per line), "
        "keeping plausible in-hour events of the catalog's types, `LIMIT 1 BY source, id`, and aggregating the meters per tenant "
        "and hour (benchmarks/floor.py). Peak RSS is each process's own high-water mark (ru_maxrss).",
        "",
    ]
    if exponents:
        parts = [f"{name} {value:.2f}" for name, value in exponents.items() if value is not None]
        out += [
            f"Scaling exponent (least-squares slope of log seconds against log events over {', '.join(fmt_events(h['events']) for h in hours if h.get('landing_kind', 'local') == 'local')}): "
            + "; ".join(parts)
            + ".",
            "",
        ]

    labels = {
        "load": "load: files -> lines",
        "map": "map: lines -> canonical rows (SQL)",
        "frame": "validation frame: SQL -> Arrow",
        "validate": "GX `validate_frame`",
        "rest": "rest: to_pandas, verdicts, accepted + quarantine inserts, counts, swaps",
    }
    keys = [k for k in labels if any(k in (h["ingest"].get("split") or {}) for h in hours)]
    out += [
        "### Inside ingest + validate",
        "",
        "| events | " + " | ".join(f"{labels[k]} (s)" for k in keys) + " | GX import + context, once per process (s) | chDB open (s) |",
        "|---:|" + "---:|" * (len(keys) + 2),
    ]
    for h in hours:
        s = h["ingest"].get("split") or {}
        ing = h["ingest"]
        out.append(
            f"| {label(h)} | "
            + " | ".join(secs(s.get(k)) for k in keys)
            + f" | {secs((ing.get('gx_import_seconds') or 0) + (ing.get('gx_context_seconds') or 0))} | "
            f"{secs(ing.get('open_seconds'))} |"
        )
    raised = [(h["events"], h["ingest"].get("peak_raised") or {}) for h in hours]
    if any(r for _, r in raised):
        out += [
            "",
            "Peak RSS raised by each step (how much higher the process's high-water mark was after it): "
            + "; ".join(f"{fmt_events(e)}: " + ", ".join(f"{k} {mib(v)}" for k, v in r.items()) for e, r in raised)
            + ".",
        ]
    if args.experiments:
        out += ["", f"Experiments patched into the pipeline: {', '.join(args.experiments)} (benchmarks/experiments.py)."]
    biggest = max((h for h in hours if h["ingest"].get("statements")), key=lambda h: h["events"], default=None)
    if biggest:
        out += [
            "",
            f"Slowest statements of the {fmt_events(biggest['events'])} hour (ingest, then usage):",
            "",
            "| seconds | calls | raised the process's peak RSS by | statement |",
            "|---:|---:|---:|---|",
        ]
        for entry in biggest["ingest"]["statements"][:8] + (biggest["usage"].get("statements") or [])[:3]:
            text = entry["statement"].replace("|", "\\|")
            out.append(f"| {entry['seconds']:.2f} | {entry['calls']} | {mib(entry.get('peak_raised'))} | `{text}` |")

    out += [
        "",
        "### Floor variants and correctness",
        "",
        "| events | floor `LineAsString` (s) | floor `JSONEachRow` (s) | events the floor aggregated | pipeline accepted | pipeline = generator's manifest |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for h in hours:
        v = h["floor"].get("variants") or {}
        check = "yes" if not h["check"] else "; ".join(h["check"][:6]).replace("|", "/")
        out.append(
            f"| {label(h)} | {secs(v.get('line', {}).get('seconds'))} | "
            f"{secs(v.get('jsoneachrow', {}).get('seconds'))} | {num(v.get('line', {}).get('events'))} | "
            f"{num((h['ingest'].get('report') or {}).get('accepted'))} | {check} |"
        )
    out += [
        "",
        "The floor's light filters (specversion, non-empty keys, known type, in-hour time) let through the few bad lines "
        "whose fault only validation sees (wrong JSON types, bad values), so it aggregates slightly more events than the "
        "pipeline accepts. `JSONEachRow` is faster but not line-exact: a truncated line swallows the next one.",
        "",
    ]
    errors = [
        (h["events"], name, stage["error"])
        for h in hours
        for name, stage in [("floor", h["floor"]), ("ingest", h["ingest"]), ("usage", h["usage"]), *h["other"].items()]
        if "error" in stage
    ]
    others = [(h["events"], g, r) for h in hours for g, r in h["other"].items() if "error" not in r]
    if others:
        out += [
            "### Other assets of the hour (through Dagster, one partition)",
            "",
            "| events | group | seconds (one Dagster run, overhead included) | success | peak RSS | peak RSS of its subprocesses (dbt) |",
            "|---:|---|---:|---|---:|---:|",
        ]
        for events, group, r in others:
            out.append(
                f"| {fmt_events(events)} | {group} | {secs(r.get('seconds'))} | {r.get('success')} | {gib(r.get('peak_rss'))} | "
                f"{gib(r.get('children_peak_rss'))} |"
            )
        out.append("")

    runs = [b for b in (backfill, export_backfill) if b]
    if runs:
        out += [
            "## Backfill",
            "",
            "Each row is ONE single-run backfill over the range (`dagster/asset_partition_range_start`/`_end` tags, "
            "`execute_in_process` of a job over the project's own definitions and resources), in a fresh process, "
            f"on generated hours of {fmt_events(runs[0]['events_per_hour'])} events. *Peak rise / hours* is (peak - RSS before the run) / hours: a plateau reads as a small figure that shrinks with more hours; growth would keep it constant.",
            "",
            "| hours | assets | wall | runs launched | per hour | events/s | peak RSS | peak rise / hours | success | events / quarantine / usage rows written |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        notes = []
        for b in runs:
            s = b["summary"]
            t = b.get("tables") or {}
            assets = ", ".join(b["assets"])
            if "seconds" in b:
                growth = ((b.get("peak_rss") or 0) - (b.get("baseline_rss") or 0)) / b["hours"]
                out.append(
                    f"| {b['hours']} | {assets} | {b['seconds'] / 60:.1f} min | {b['runs_launched']} | "
                    f"{b['seconds'] / b['hours']:.2f} s | {rate(s['lines'], b['seconds'])} | {gib(b.get('peak_rss'))} | "
                    f"{mib(growth)} | {b['success']} | {num(t.get('events'))} / {num(t.get('quarantine'))} / "
                    f"{num(t.get('usage_hourly'))} |"
                )
                if t and t.get("events") != s["accepted"]:
                    notes.append(
                        f"{b['hours']}-hour run: {t.get('events')} events written, the generator made {s['accepted']} valid and unique."
                    )
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
            out += [
                f"pyinstrument over `ingest_hour` + `build_usage_hour` of the {fmt_events(profile['events'])} hour "
                f"({p['total_seconds']:.1f} s sampled; full tree in `{Path(profile['output']).relative_to(REPO)}`).",
                "",
                "| where | seconds | share |",
                "|---|---:|---:|",
            ]
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
                out += [
                    "",
                    f"Of the {p['validate_seconds']:.1f} s in `validate_frame`, {p['gx_mask_copy_seconds']:.1f} s is pandas copying the "
                    f"whole batch through boolean masks (`DataFrame._getitem_bool_array`: GX filters the full frame, every column, for "
                    f"each metric of each expectation) and {p['gx_batch_hash_seconds']:.1f} s is GX hashing the batch "
                    "(`hash_pandas_object`) to name it.",
                    "",
                ]
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
