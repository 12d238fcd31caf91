"""ClickHouse from the outside: a busy embedded directory, a server that refuses or never answers, a load that fails.

The connect policy under test is ClickHouseResource._connect_server: `connect_attempts` (4)
tries, waiting `connect_backoff_seconds` (1 s) then doubling (1, 2, 4 s), each attempt bounded
by `connect_timeout_seconds` for the TCP connect and for the handshake's answer. The waits
are recorded rather than slept, so the tests stay fast while checking the real schedule.
The embedded directory held past the wait limit is covered by
test_engine_lock.py::test_wait_limit_names_the_holder; here it is seen through a Dagster run.
"""

import socket
import subprocess
import sys
import textwrap
import time

import dagster as dg
import pytest

import metering_pipeline.resources.clickhouse as clickhouse_module
from metering_pipeline.ingest import hour as hour_module
from metering_pipeline.ingest import load as load_module
from metering_pipeline.ingest.assets import ingest
from metering_pipeline.resources import CatalogResource, ClickHouseResource, LandingZone
from metering_pipeline.resources.clickhouse import ClickHouseUnavailable
from metering_pipeline.usage.assets import usage_hourly
from metering_pipeline_tests.support.events import KEY, land, line
from metering_pipeline_tests.support.hour_snapshot import differences, take_snapshot

PASSWORD = "p@ss/w0rd-0f-the-hour"
ENCODED = "p%40ss%2Fw0rd-0f-the-hour"


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """The backoff waits of _connect_server, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(clickhouse_module.time, "sleep", recorded.append)
    return recorded


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_refused_connection_retries_per_policy_then_fails_clearly(waits):
    url = f"http://metering:{ENCODED}@127.0.0.1:{closed_port()}"
    started = time.monotonic()
    with pytest.raises(ClickHouseUnavailable) as failure:
        with ClickHouseResource(url=url).get_client():
            pass
    message = str(failure.value)
    assert waits == [1.0, 2.0, 4.0]  # the documented policy: 4 attempts, backoff doubling from 1 s
    assert "unreachable after 4 attempts" in message and "Connection refused" in message
    assert PASSWORD not in message and ENCODED not in message and "metering:***@" in message
    assert failure.value.__cause__ is None and failure.value.__suppress_context__
    assert time.monotonic() - started < 5


def test_server_that_accepts_but_never_answers_times_out_per_attempt(waits):
    with socket.socket() as silent:  # listens (the kernel completes handshakes) but never reads or answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        resource = ClickHouseResource(
            url=f"http://metering:{ENCODED}@127.0.0.1:{port}", connect_timeout_seconds=1, connect_attempts=3, connect_backoff_seconds=0.5
        )
        started = time.monotonic()
        with pytest.raises(ClickHouseUnavailable, match=r"unreachable after 3 attempts: .*[Rr]ead timed out") as failure:
            with resource.get_client():
                pass
        elapsed = time.monotonic() - started
    assert waits == [0.5, 1.0]
    assert 2.5 < elapsed < 10  # three attempts of ~1 s each, not 3 x 300 s
    assert PASSWORD not in str(failure.value) and ENCODED not in str(failure.value)


def test_unreachable_server_fails_the_dagster_step_with_the_redacted_reason(waits, landing, landing_dir):
    land(landing_dir, "a.ndjson", [line("e1")])
    clickhouse = ClickHouseResource(url=f"http://metering:{ENCODED}@127.0.0.1:{closed_port()}", connect_attempts=2)
    result = dg.materialize(
        [ingest],
        partition_key=KEY,
        raise_on_error=False,
        resources={"clickhouse": clickhouse, "landing": landing, "catalog": CatalogResource()},
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    error = failure.event_specific_data.error
    text = error.to_string()
    assert "ClickHouseUnavailable" in text and "unreachable after 2 attempts" in text
    assert PASSWORD not in text and ENCODED not in text


HOLDER = textwrap.dedent(
    """
    import sys, time
    from metering_pipeline.resources import ClickHouseResource
    with ClickHouseResource(url=sys.argv[1]).get_client(purpose="nightly vacuum"):
        print("holding", flush=True)
        time.sleep(60)
    """
)


@pytest.mark.slow
def test_embedded_directory_held_elsewhere_fails_the_run_naming_the_holder(tmp_path, landing, landing_dir):
    url = f"chdb://{tmp_path / 'ch'}"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        land(landing_dir, "a.ndjson", [line("e1")])
        result = dg.materialize(
            [ingest],
            partition_key=KEY,
            raise_on_error=False,
            resources={"clickhouse": ClickHouseResource(url=url, lock_timeout_seconds=1), "landing": landing, "catalog": CatalogResource()},
        )
    finally:
        holder.kill()
        holder.wait()
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    text = failure.event_specific_data.error.to_string()
    assert "EngineBusyError" in text and f"pid {holder.pid}" in text and "nightly vacuum" in text


class LoadFailed(RuntimeError):
    pass


@pytest.mark.slow
@pytest.mark.parametrize("reader", ["python", "engine"])
def test_a_failure_mid_load_leaves_the_previous_hour_intact(clickhouse, landing_dir, monkeypatch, reader):
    """Python reader: the second file's load fails; engine: the second source's mapping (which reads its files) fails."""
    land(landing_dir, "a.ndjson", [line(f"e{i}") for i in range(20)] + ["not json"])
    land(landing_dir, "b.ndjson", [line(f"f{i}", subject="globex") for i in range(20)])
    landing = LandingZone(url=str(landing_dir), reader=reader)
    resources = {"clickhouse": clickhouse, "landing": landing, "catalog": CatalogResource()}
    assert dg.materialize([ingest, usage_hourly], partition_key=KEY, resources=resources).success
    before = take_snapshot(clickhouse.url, None)

    land(landing_dir, "c.ndjson", [line(f"g{i}", subject="initech") for i in range(20)])  # the rerun would change the hour
    module, name = (load_module, "_load_chunk") if reader == "python" else (hour_module, "stage_mapped")
    original, calls = getattr(module, name), []

    def failing(*args, **kwargs):
        calls.append(args[-1])
        if len(calls) == (2 if reader == "python" else 1):
            raise LoadFailed("connection lost in the middle of the load")
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, failing)
    result = dg.materialize([ingest, usage_hourly], partition_key=KEY, resources=resources, raise_on_error=False)
    assert not result.success and calls
    after = take_snapshot(clickhouse.url, None)
    assert differences(before, after) == []  # events, quarantine, usage: the previous hour, untouched
    assert after.leftovers == []  # and the failed attempt's staging tables were dropped
