"""The long hardening runs (`make soak`): crash-and-rerun and the million-line fuzz, printing their figures.

`python -m soak.run` (see soak/run.py). The bounded versions of both run in `make test`
(metering_pipeline_tests/test_hardening_crash.py, test_hardening_fuzz.py); the harnesses
live in metering_pipeline_tests/support/ (crash_harness.py, hour_snapshot.py, hostile.py).
"""
