"""The benchmark's hour figures: the fastest of its runs counts, as the floor's best of 3 does."""

from pathlib import Path

from benchmarks.report import RESULTS, targets
from benchmarks.run import DATA_ROOT, fastest_run, results_json


def _run(seconds, ingest_peak, usage_peak=100):
    ingest = {"peak_rss": ingest_peak, **({"seconds": seconds - 1} if seconds else {"error": "boom"})}
    return {"ingest": ingest, "usage": {"seconds": 1, "peak_rss": usage_peak}, "seconds": seconds}


def test_fastest_run_counts_and_peak_is_the_highest():
    hour = fastest_run([_run(5.0, 300), _run(4.0, 200), _run(4.5, 900, usage_peak=700)])
    assert hour["pipeline_seconds"] == 4.0
    assert hour["ingest"]["seconds"] == 3.0  # the fastest run's stages
    assert hour["ingest"]["peak_rss"] == 900 and hour["usage"]["peak_rss"] == 700  # any run's high-water mark
    assert hour["pipeline_runs"] == [5.0, 4.0, 4.5]


def test_a_failed_run_fails_the_hour():
    hour = fastest_run([_run(4.0, 200), _run(None, 300)])
    assert hour["pipeline_seconds"] is None
    assert hour["ingest"]["error"] == "boom"


def test_summary_names_the_slowest_run_and_judges_the_fastest():
    hour = {"events": 1_000_000, "ratio": 2.5, "floor_seconds": 1.0, "pipeline_runs": [2.5, 3.5, 2.8]}
    row = next(line for line in targets([hour], None, None) if line.startswith("| 1M hour"))
    assert "2.5x (fastest of 3 runs; the slowest 3.50x)" in row
    assert row.endswith("| met |")
    hour["ratio"] = 3.2
    assert next(line for line in targets([hour], None, None) if line.startswith("| 1M")).endswith("**not met** |")
    hour["ratio"] = 1.9
    assert next(line for line in targets([hour], None, None) if line.startswith("| 1M")).endswith("| met (moonshot met) |")


def _hour(events, ratio, peak, seconds=10.0, check=(), kind="local"):
    stage = {"seconds": seconds / 2, "peak_rss": peak}
    return {"events": events, "ratio": ratio, "landing_kind": kind, "pipeline_seconds": seconds, "check": list(check)} | {
        "ingest": dict(stage),
        "usage": dict(stage),
    }


def test_the_5m_and_20m_targets_judge_ratio_memory_and_counts():
    gib = 2**30
    rows = targets([_hour(5_000_000, 3.4, 1.4 * gib), _hour(20_000_000, 5.0, 1.9 * gib)], None, None)
    assert next(r for r in rows if r.startswith("| 5M")).endswith("| 3.4x, 1.40 GiB | met |")
    assert next(r for r in rows if r.startswith("| 20M")).endswith("| met |")
    rows = targets([_hour(5_000_000, 3.6, 1.4 * gib), _hour(20_000_000, 5.0, 1.9 * gib, check=["usage: differs"])], None, None)
    assert next(r for r in rows if r.startswith("| 5M")).endswith("**not met** |")
    assert next(r for r in rows if r.startswith("| 20M")).endswith("**not met** |")  # wrong counts fail the hour


def test_the_s3_row_has_its_own_ratio_and_no_target():
    rows = targets([_hour(1_000_000, 5.3, 2**30, kind="S3")], None, None)
    assert rows[2:] == ["| 1M from S3 (moto on loopback): its own ratio (no target) | 5.3x | counts = manifest |"]


def test_a_partial_run_saves_its_json_beside_its_own_report():
    """RESULTS.md is rendered (`--render`) from benchmarks/data/results.json; a measuring run with its
    own --output must not overwrite that file."""
    assert results_json(RESULTS) == DATA_ROOT / "results.json"
    assert results_json(Path("/tmp/x.md")) == Path("/tmp/x.json")
    assert results_json(DATA_ROOT / "RESULTS-quick.md") == DATA_ROOT / "RESULTS-quick.json"
