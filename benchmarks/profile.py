"""Where the time of an hour goes: pyinstrument over `ingest_hour` + `build_usage_hour`.

Run by `python -m benchmarks.run` (the profile size, 1M events by default) or alone:
`python -m benchmarks.profile --events 1000000`. Writes the full call tree to
benchmarks/data/profile-<events>.txt and returns a summary: time by library (self time of
each sample attributed to the library whose code was running), the top-level calls under
`ingest_hour`, and the time GX spends copying the batch with boolean masks.
"""

import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

LIBRARIES = (
    ("great_expectations", "great-expectations"),
    ("/pandas/", "pandas"),
    ("/pyarrow/", "pyarrow"),
    ("/numpy/", "numpy"),
    ("/chdb/", "chDB engine (SQL)"),
    ("/clickhouse_connect/", "clickhouse-connect"),
    ("/metering_pipeline/", "metering_pipeline (Python)"),
    ("/dagster", "dagster"),
)


def _library(path: str | None) -> str | None:
    if not path:
        return None
    for needle, name in LIBRARIES:
        if needle in path:
            return name
    return None


def summarize(root, top_function: str = "ingest_hour") -> dict:
    """Aggregate a pyinstrument frame tree: time by library, calls under `top_function`, GX mask copies."""
    by_library: dict[str, float] = defaultdict(float)
    in_validate: dict[str, float] = defaultdict(float)

    def walk(frame, owner: str, validating: bool):
        own = _library(frame.file_path) or owner
        validating = validating or frame.function == "validate_frame"
        if frame.function == "[self]" or not frame.children:
            (in_validate if validating else by_library)[own] += frame.time
        for child in frame.children:
            walk(child, own, validating)

    walk(root, "other", False)

    def find(frame, name):
        if frame.function == name:
            return frame
        for child in frame.children:
            hit = find(child, name)
            if hit is not None:
                return hit
        return None

    def outermost(frame, name, acc):
        if frame.function == name:
            acc.append(frame)
            return acc
        for child in frame.children:
            outermost(child, name, acc)
        return acc

    calls: dict[str, float] = defaultdict(float)
    top = find(root, top_function)
    if top is not None:
        for child in top.children:
            if child.function != "[self]":
                calls[f"{child.function} ({Path(child.file_path or '').name})"] += child.time
    validate = find(root, "validate_frame")
    masks = sum(f.time for f in outermost(validate, "_getitem_bool_array", [])) if validate is not None else 0.0
    hashing = sum(f.time for f in outermost(validate, "hash_pandas_object", [])) if validate is not None else 0.0
    return {
        "total_seconds": round(root.time, 3),
        "by_library": {k: round(v, 3) for k, v in sorted(by_library.items(), key=lambda kv: -kv[1])},
        "validate_by_library": {k: round(v, 3) for k, v in sorted(in_validate.items(), key=lambda kv: -kv[1])},
        "ingest_calls": {k: round(v, 3) for k, v in sorted(calls.items(), key=lambda kv: -kv[1])},
        "validate_seconds": round(validate.time, 3) if validate is not None else None,
        "gx_mask_copy_seconds": round(masks, 3),
        "gx_batch_hash_seconds": round(hashing, 3),
    }


def stage_profile(spec) -> dict:
    from pyinstrument import Profiler

    from benchmarks.stages import _hour, _resources, _warm_gx, apply_experiments, reader_of

    apply_experiments(spec)
    from metering_pipeline.ingest.hour import ingest_hour
    from metering_pipeline.usage.hour import build_usage_hour

    warm = _warm_gx()
    clickhouse, landing, catalog = _resources(spec)
    hour = _hour(spec)
    with clickhouse.get_client(purpose="benchmark profile") as client:
        profiler = Profiler(interval=spec.get("interval", 0.002))
        started = time.monotonic()
        profiler.start()
        ingest_hour(client, landing, catalog, hour, reader=reader_of(landing))
        build_usage_hour(client, catalog, hour)
        profiler.stop()
        seconds = time.monotonic() - started
    session = profiler.last_session
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    Path(spec["output"]).write_text(text)
    summary = summarize(session.root_frame())
    return {**warm, "seconds": round(seconds, 3), "output": spec["output"], "summary": summary}


def main(argv: list[str] | None = None) -> None:
    import argparse

    from benchmarks.generate import BENCH_HOUR, DATA_ROOT, ensure_hour

    parser = argparse.ArgumentParser(description="Profile one generated hour through ingest + usage.")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    landing, _ = ensure_hour(args.events, args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as work:
        output = DATA_ROOT / f"profile-{args.events}.txt"
        result = stage_profile({"chdb": f"{work}/ch", "landing": str(landing), "hour": BENCH_HOUR.isoformat(), "output": str(output)})
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
