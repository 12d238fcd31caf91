"""Debian's Prometheus Pushgateway on loopback for tests, and gateways that fail: one refusing
connections (a port nobody listens on) and one that accepts and never answers."""

import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from metering_pipeline_tests.support.backfill_ui import in_ci

BINARY = shutil.which("prometheus-pushgateway") or "/usr/bin/prometheus-pushgateway"


def require_binary(path: str, package: str) -> None:
    """Skip without the Debian package on a developer's machine; fail in CI (CI=true), where it must run."""
    if Path(path).is_file():
        return
    message = f"no {path}: apt-get install {package} (.ci/run installs it)"
    if in_ci():
        pytest.fail(f"CI=true and {message}. The observability tests must run in CI, not skip.", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LoopbackServer:
    """A Debian binary serving HTTP on a free loopback port, started and stopped by its own pid."""

    def __init__(self, workdir: Path, binary: str, package: str, args: list[str], ready_path: str):
        require_binary(binary, package)
        self.port = free_port()
        self.log = (workdir / f"{Path(binary).name}.log").open("wb")
        self.process = subprocess.Popen(
            [binary, f"--web.listen-address=127.0.0.1:{self.port}", *args], stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                self.get(ready_path)
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"{binary} did not start on port {self.port}") from None
                time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> str:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=5) as response:
            return response.read().decode("utf-8")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class PushgatewayProcess(LoopbackServer):
    """Debian's prometheus-pushgateway, persistence off."""

    def __init__(self, workdir: Path):
        super().__init__(workdir, BINARY, "prometheus-pushgateway", ["--persistence.file="], "/metrics")

    def samples(self, prefix: str = "metering_") -> dict[tuple[str, tuple], float]:
        """{(sample name, sorted labels without the grouping key's job): value} of the pipeline's metrics."""
        found = {}
        for family in text_string_to_metric_families(self.get("/metrics")):
            for s in family.samples:
                if s.name.startswith(prefix):
                    labels = tuple(sorted((k, v) for k, v in s.labels.items() if k not in ("job", "instance")))
                    assert (s.name, labels) not in found, f"{s.name}{labels} exposed twice"
                    found[(s.name, labels)] = s.value
        return found


class SilentGateway:
    """Accepts connections and never answers: a hung gateway."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.accepted = 0
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.accepted += 1
            self.held.append(connection)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.getsockname()[1]}"

    def close(self) -> None:
        self.server.close()
        for connection in self.held:
            connection.close()
