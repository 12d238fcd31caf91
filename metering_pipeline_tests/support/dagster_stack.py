"""A real Dagster webserver and daemon on loopback, over a temporary DAGSTER_HOME, always cleaned up.

Each process gets its own session (process group), so stopping it also stops the code
server and run workers it started, and nothing else: SIGTERM first, SIGKILL after a grace.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCATION = ["-m", "metering_pipeline.definitions"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_instance(home: Path) -> None:
    """The repo's dagster.yaml (pools of one slot), minus the first-visit newsletter modal. Its SQLite
    storage is created here, once: two processes creating it at the same moment corrupt its schema version."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text() + "\nnux:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(home)):
        pass


def _stop(process: subprocess.Popen, grace: float = 20.0) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the group: code servers and run workers too
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def _wait_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dagster-webserver exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"dagster-webserver not up after {timeout}s:\n{log.read_text()[-3000:]}")


@contextmanager
def dagster_stack(env: dict, logs: Path):
    """Yields the webserver's base URL; the daemon runs queued runs and backfills."""
    port = free_port()
    started = []
    try:
        for name, args in (
            ("daemon", [str(BIN / "dagster-daemon"), "run", *LOCATION]),
            ("webserver", [str(BIN / "dagster-webserver"), *LOCATION, "-h", "127.0.0.1", "-p", str(port)]),
        ):
            log = logs / f"{name}.log"
            with open(log, "wb") as sink:
                started.append(subprocess.Popen(args, cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True))
        base = f"http://127.0.0.1:{port}"
        _wait_http(f"{base}/server_info", started[-1], logs / "webserver.log")
        yield base
    finally:
        for process in reversed(started):
            _stop(process)
