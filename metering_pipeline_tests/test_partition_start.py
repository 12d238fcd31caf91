"""History before 2025: the first partition comes from METERING_PARTITION_START, checked when definitions load."""

import os
import subprocess
import sys

import pytest

from metering_pipeline.partitions import DEFAULT_START, partition_start

FIRST_KEY = (
    "from metering_pipeline.definitions import defs; "
    "print(defs.resolve_job_def('hourly_metering').partitions_def.get_first_partition_key())"
)


@pytest.mark.parametrize(
    "text, key",
    [
        (None, DEFAULT_START),
        ("", DEFAULT_START),
        ("2023-03-01", "2023-03-01-00:00"),
        ("2023-03-01-07:00", "2023-03-01-07:00"),
        (" 2023-03-01 ", "2023-03-01-00:00"),
    ],
)
def test_partition_start_forms(text, key):
    assert partition_start(text) == key


@pytest.mark.parametrize("text", ["2023-03-01-07:30", "2023-3-1", "01/03/2023", "2023-03-01T00:00", "yesterday"])
def test_partition_start_refuses_what_is_not_an_hour(text):
    with pytest.raises(ValueError, match="METERING_PARTITION_START must be YYYY-MM-DD"):
        partition_start(text)


def _load(start: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "METERING_PARTITION_START"}
    if start is not None:
        env["METERING_PARTITION_START"] = start
    return subprocess.run([sys.executable, "-c", FIRST_KEY], env=env, capture_output=True, text=True, timeout=300)


def test_definitions_take_the_start_from_the_environment():
    assert _load("2019-07-01").stdout.strip() == "2019-07-01-00:00"
    assert _load(None).stdout.strip() == DEFAULT_START
    refused = _load("2019-07-01 10:00")
    assert refused.returncode != 0 and "METERING_PARTITION_START must be YYYY-MM-DD" in refused.stderr
