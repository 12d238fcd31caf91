"""The benchmark's hour figures: the fastest of its runs counts, as the floor's best of 3 does."""

from benchmarks.report import targets
from benchmarks.run import fastest_run


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
    hour = {"events": 1_000_000, "ratio": 4.5, "floor_seconds": 1.0, "pipeline_runs": [4.5, 5.5, 4.8]}
    row = next(line for line in targets([hour], None, None) if line.startswith("| 1M hour"))
    assert "4.5x (fastest of 3 runs; the slowest 5.50x)" in row
    assert row.endswith("| met |")
    hour["ratio"] = 5.2
    assert next(line for line in targets([hour], None, None) if line.startswith("| 1M")).endswith("**not met** |")
