"""Benchmarks: a deterministic hour generator, the pipeline vs the engine floor, and a month backfill.

`python -m benchmarks.run` (or `make bench`) regenerates benchmarks/RESULTS.md. Not part of
`make test`; nothing here asserts timings.
"""
