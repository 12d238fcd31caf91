"""One process per chDB directory: others wait politely, then fail naming the holder."""

import subprocess
import sys
import textwrap
import time

import pytest

from metering_pipeline.engine_lock import EngineBusyError, lock_path_for
from metering_pipeline.resources import ClickHouseResource

HOLDER = textwrap.dedent(
    """
    import sys, time
    from metering_pipeline.resources import ClickHouseResource
    resource = ClickHouseResource(url=sys.argv[1])
    with resource.get_client(purpose="test holder") as client:
        client.command("CREATE TABLE IF NOT EXISTS held (x UInt8) ENGINE = MergeTree ORDER BY x")
        print("holding", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def start_holder(url: str, seconds: float) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLDER, url, str(seconds)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "holding"
    return process


def test_second_process_waits_then_gets_the_directory(tmp_path):
    url = f"chdb://{tmp_path / 'ch'}"
    holder = start_holder(url, 2.0)
    started = time.monotonic()
    with ClickHouseResource(url=url, lock_timeout_seconds=60).get_client() as client:
        waited = time.monotonic() - started
        assert client.command("SELECT count() FROM held") == 0
    assert holder.wait(timeout=30) == 0
    assert waited > 0.5  # it really waited for the holder rather than failing or sharing


def test_wait_limit_names_the_holder(tmp_path):
    url = f"chdb://{tmp_path / 'ch'}"
    holder = start_holder(url, 10.0)
    try:
        with pytest.raises(EngineBusyError, match=rf"pid {holder.pid} .*test holder"):
            with ClickHouseResource(url=url, lock_timeout_seconds=0.5).get_client():
                pass
    finally:
        holder.kill()
        holder.wait()
    assert lock_path_for(tmp_path / "ch").exists()


def test_lock_is_reentrant_in_one_process(clickhouse):
    with clickhouse.get_client() as outer, clickhouse.get_client() as inner:
        assert outer.command("SELECT 1") == inner.command("SELECT 1") == 1
