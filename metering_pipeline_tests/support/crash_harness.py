"""Crash anywhere, rerun, same result: run one hour as the real job in a child process, SIGKILL it, rerun, compare.

The child runs the real job, `defs.resolve_job_def("hourly_metering").execute_in_process(...)`
over a DAGSTER_HOME instance, configured only through the environment
(METERING_CLICKHOUSE_URL=chdb://<dir>, METERING_LANDING_URL, METERING_EXPORT_URL,
METERING_CATALOG), exactly as the CLI and the daemon configure it. It is its own process
group, so a kill takes the dbt subprocess with it: the whole machine dies, as far as the
hour can tell.

Where it dies. The pipeline carries no test hook. The child installs its own, from the
harness, around the library calls the pipeline makes (nothing in metering_pipeline is
edited): every ClickHouse statement (clickhouse-connect's client methods), every store
PUT, every read from a landing file and the dbt invocation. A plan says at which of these
the child SIGKILLs its own process group; a kill from inside is the same as a kill from
outside at that instant (no finally block, no atexit, no flush runs). Plans:

    {"kind": "read", "bytes": B}                      during the Python reader's file reads, once B landing bytes were read
    {"kind": "statement", "n": N, "when": "before"}   at the N-th ClickHouse statement of the run
    {"kind": "sql", "match": RE, "nth": K, "when": "after"}   at a named statement (REPLACE, ledger insert, ...)
    {"kind": "put", "n": K, "when": "after"}           between store PUTs (optionally `match` on the key)
    {"kind": "dbt", "delay": S}                       S seconds after `dbt build` took the warehouse
    {"kind": "time", "delay": S}                      from outside, S seconds after the run first opened ClickHouse

Every hook also appends to a trace file (one JSON line per statement, PUT, session, file
open), which is how the harness knows where an outside kill landed and how the
reference run sizes the random choices.

Two ways to start the child: `SpawnRunner` starts `python -m ...crash_harness run` per run
(plain, slow: ~11 s of imports per run); `ForkServer` imports dagster, the definitions and
great-expectations once and forks a child per run (the same code path from the job on,
~10 s cheaper per run, which is what lets the soak afford 50 kills).
"""

import json
import os
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
MODULE = "metering_pipeline_tests.support.crash_harness"
KEY = "2026-11-22-10:00"
HOUR_PATH = "2026/11/22/10"
FIXTURES = REPO / "metering_pipeline_tests" / "fixtures"
PLACEHOLDER_ENV = {  # set when the fork server imports the definitions, so every resource reads the environment
    # Definitions check the quota file against the catalog when they load: an existing, valid file.
    "METERING_QUOTAS": str(REPO / "metering_pipeline" / "alerts" / "quotas.example.yaml"),
    "METERING_CLICKHOUSE_URL": "chdb:///nonexistent/placeholder",
    "METERING_LANDING_URL": "/nonexistent/placeholder",
    "METERING_EXPORT_URL": "/nonexistent/placeholder",
    "METERING_CATALOG": "",
    "METERING_DATABASE": "metering",
}
KILLED = -signal.SIGKILL


# --------------------------------------------------------------------------------------------- the hour


def _event(rng: random.Random, index: int, tenants: int) -> dict:
    hour = datetime(2026, 11, 22, 10)
    moment = hour.replace(minute=rng.randrange(60), second=rng.randrange(60), microsecond=rng.randrange(1_000_000))
    tenant = "o'brien & co" if index % 97 == 0 else f"tenant-{rng.randrange(tenants):03d}"
    kind = rng.random()
    if kind < 0.6:
        event_type, data = (
            "gateway.request",
            {
                "service_id": rng.choice(("api", "auth", "billing", "search")),
                "bytes_sent": rng.randrange(100, 50_000),
                "bytes_received": rng.randrange(5_000),
            },
        )
    elif kind < 0.75:
        event_type, data = (
            "gateway.connection",
            {"service_id": rng.choice(("api", "auth")), "duration_seconds": f"{rng.randrange(1, 600_000) / 1000:.3f}"},
        )
    else:
        event_type, data = "api.call", {"endpoint": rng.choice(("/v1/query", "/v1/ingest")), "user_id": f"u{rng.randrange(40)}"}
    return {
        "specversion": "1.0",
        "id": f"evt-{index:06d}",
        "source": "edge-proxy",
        "type": event_type,
        "subject": tenant,
        "time": moment.isoformat() + "Z",
        "data": data,
    }


def write_hour(landing: Path, events: int = 3000, tenants: int = 80, seed: int = 11) -> int:
    """The crash hour: CloudEvents in four files (two gzip, duplicates across files, bad lines) and the
    Envoy, billing-client and Data API fixtures. Returns the landed bytes."""
    import gzip

    rng = random.Random(seed)
    lines = [json.dumps(_event(rng, i, tenants)) for i in range(events)]
    lines += [lines[i] for i in range(0, events, 101)]  # resent events: duplicates
    lines += ["this is not json", '{"specversion": "1.0", "id": "broken"}', "\ufeff" + lines[1], lines[2] + "\r"]
    rng.shuffle(lines)
    folder = landing / "events" / HOUR_PATH
    folder.mkdir(parents=True, exist_ok=True)
    quarter = len(lines) // 4
    for part, name in enumerate(("a.ndjson", "b.ndjson.gz", "c.ndjson", "d.ndjson.gz")):
        body = ("\n".join(lines[part * quarter : (part + 1) * quarter if part < 3 else None]) + "\n").encode()
        (folder / name).write_bytes(gzip.compress(body, mtime=0) if name.endswith(".gz") else body)
    for source, fixture in (("envoy-gateway", "envoy"), ("billing-client", "billing_client"), ("data-api", "data_api")):
        target = landing / source / HOUR_PATH
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted((FIXTURES / fixture).glob("*.ndjson")):
            shutil.copy(path, target)
    return sum(p.stat().st_size for p in landing.rglob("*") if p.is_file())


ATTRIBUTION = [
    {"kind": "httproute", "key": "team-a/web", "tenant_id": "acme", "billing_account_id": "ba-acme-1", "valid_to": "2026-11-22T10:30:00"},
    {"kind": "httproute", "key": "team-a/web", "tenant_id": "acme", "billing_account_id": "ba-acme-2", "valid_from": "2026-11-22T10:30:00"},
    {"kind": "tcproute", "key": "team-a/db", "tenant_id": "acme", "billing_account_id": "ba-acme-1"},
    {"kind": "httproute", "key": "team-b/api", "tenant_id": "globex", "billing_account_id": "ba-globex"},
    {"kind": "instance", "key": "1001", "tenant_id": "acme", "billing_account_id": "ba-acme-1"},
    {"kind": "instance", "key": "2002", "tenant_id": "globex", "billing_account_id": "ba-globex"},
    {"kind": "resource", "key": "db-1", "tenant_id": "acme", "billing_account_id": "ba-acme-1"},
    {"kind": "resource", "key": "db-2", "tenant_id": "globex", "billing_account_id": "ba-globex"},
]


def write_catalog(path: Path) -> Path:
    """The default catalog with attribution for the fixtures' routes, instances and resources (so draft meters export too)."""
    from metering_pipeline.catalog.model import DEFAULT_CATALOG

    document = yaml.safe_load(DEFAULT_CATALOG.read_text(encoding="utf-8"))
    document["attribution"] = {"entries": ATTRIBUTION}
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


QUOTAS = [
    {"tenant": "tenant-001", "meter": "gateway_requests", "quota": 3},
    {"tenant": "o'brien & co", "meter": "api_calls", "quota": 1, "thresholds": [100]},
    {"tenant": "acme", "meter": "gateway_egress_bytes", "quota": 1000000},
]


def write_quotas(path: Path) -> Path:
    """Quotas some tenants of the crash hour cross, so usage_alerts has rows to compare."""
    path.write_text(yaml.safe_dump({"quotas": QUOTAS}, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class Sandbox:
    """One warehouse, one export root and one Dagster instance for runs of the hour."""

    root: Path
    landing: str
    export: str  # a local directory or s3://bucket/prefix
    catalog: str
    extra_env: dict = field(default_factory=dict)
    runs: int = 0

    @property
    def clickhouse_url(self) -> str:
        return f"chdb://{self.root / 'clickhouse'}"

    @property
    def lock_file(self) -> Path:
        return self.root / "clickhouse.lock"

    def env(self) -> dict:
        (self.root / "dagster").mkdir(parents=True, exist_ok=True)
        return {
            **os.environ,
            "GX_ANALYTICS_ENABLED": "false",
            "DAGSTER_HOME": str(self.root / "dagster"),
            "METERING_CLICKHOUSE_URL": self.clickhouse_url,
            "METERING_LANDING_URL": self.landing,
            "METERING_EXPORT_URL": self.export,
            "METERING_CATALOG": self.catalog,
            "METERING_DATABASE": "metering",
            "METERING_QUOTAS": str(write_quotas(self.root / "quotas.yaml")),
            "DBT_TARGET_PATH": str(self.root / "dbt-target"),  # dagster-dbt's per-run target and log folders, kept here
            **self.extra_env,
        }

    def next_paths(self) -> tuple[Path, Path]:
        self.runs += 1
        logs = self.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        return logs / f"run-{self.runs}.log", logs / f"run-{self.runs}.trace"


# --------------------------------------------------------------------------------------------- child side


class _Hooks:
    """Installed in the child: trace every statement / PUT / read / dbt start, and SIGKILL at the planned one."""

    def __init__(self, plan: dict | None, trace_path: str):
        self.plan = plan or {"kind": "none"}
        self.trace = open(trace_path, "a", buffering=1, encoding="utf-8")
        self.statements = 0
        self.matches = 0
        self.puts = 0
        self.read_bytes = 0
        self.local = threading.local()

    def note(self, **event) -> None:
        event["t"] = round(time.time(), 3)
        self.trace.write(json.dumps(event) + "\n")

    def kill(self, where: str) -> None:
        self.note(kind="kill", where=where)
        self.trace.flush()
        os.killpg(os.getpgrp(), signal.SIGKILL)
        time.sleep(60)  # never reached

    def _strikes(self, kind: str, count: int, text: str) -> str | None:
        """ "before" or "after" when this statement / PUT is the planned one, else None."""
        plan = self.plan
        if plan["kind"] != kind and not (plan["kind"] == "sql" and kind == "statement"):
            return None
        if "match" in plan:
            if not re.search(plan["match"], text):
                return None
            self.matches += 1
            return plan.get("when", "before") if self.matches == plan.get("nth", 1) else None
        return plan.get("when", "before") if plan["n"] == count else None

    def statement(self, method: str, text: str, call):
        depth = getattr(self.local, "depth", 0)
        if depth:
            return call()
        self.statements += 1
        number = self.statements
        self.note(kind="sql", n=number, method=method, text=" ".join(text.split())[:160])
        strike = self._strikes("statement", number, text)
        if strike == "before":
            self.kill(f"before statement {number}: {text[:80]}")
        self.local.depth = depth + 1
        try:
            result = call()
        finally:
            self.local.depth = depth
        if strike == "after":
            self.kill(f"after statement {number}: {text[:80]}")
        return result

    def put(self, key: str, call):
        self.puts += 1
        self.note(kind="put", n=self.puts, key=key)
        strike = self._strikes("put", self.puts, key)
        if strike == "before":
            self.kill(f"before PUT {self.puts} {key}")
        result = call()
        if strike == "after":
            self.kill(f"after PUT {self.puts} {key}")
        return result

    def read(self, size: int) -> None:
        self.read_bytes += size
        if self.plan["kind"] == "read" and self.read_bytes >= self.plan["bytes"]:
            self.kill(f"reading landing files, {self.read_bytes} bytes read")


class _Stream:
    """A landing stream that reports every read to the hooks."""

    def __init__(self, inner, hooks: _Hooks):
        self.inner, self.hooks = inner, hooks

    def read(self, *args):
        data = self.inner.read(*args)
        if data:
            self.hooks.read(len(data))
        return data

    def close(self):
        return self.inner.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.inner.close()


def install(plan: dict | None, trace_path: str) -> _Hooks:
    from clickhouse_connect.driver._chdbclient import ChdbClient

    from metering_pipeline.dbt.resources import MeteringDbtCliResource
    from metering_pipeline.engine_lock import lock_path_for
    from metering_pipeline.resources import ClickHouseResource, LandingZone
    from metering_pipeline.resources.clickhouse import embedded_path
    from metering_pipeline.resources.export_store import LocalObjects, S3Objects

    hooks = _Hooks(plan, trace_path)

    def wrap_statement(name: str, text_of):
        original = getattr(ChdbClient, name)

        def wrapper(self, *args, **kwargs):
            return hooks.statement(name, text_of(args, kwargs), lambda: original(self, *args, **kwargs))

        setattr(ChdbClient, name, wrapper)

    first = lambda key: lambda a, k: str(a[0] if a else k.get(key, ""))  # noqa: E731
    for name in ("command",):
        wrap_statement(name, first("cmd"))
    for name in ("query", "query_arrow", "query_df", "raw_query"):
        wrap_statement(name, first("query"))
    for name in ("insert", "insert_arrow", "insert_df", "raw_insert"):
        wrap_statement(name, lambda a, k: f"INSERT INTO {a[0] if a else k.get('table', '')}")

    for backend in (LocalObjects, S3Objects):
        original_put = backend.put

        def put(self, key, body, content_type, _original=original_put):
            return hooks.put(key, lambda: _original(self, key, body, content_type))

        backend.put = put

    original_open = LandingZone.open

    def open_landing(self, landed):
        hooks.note(kind="open", file=landed.name)
        return _Stream(original_open(self, landed), hooks)

    LandingZone.open = open_landing

    original_get_client = ClickHouseResource.get_client

    def get_client(self, purpose: str = "metering-pipeline"):
        hooks.note(kind="session", purpose=purpose.split(" run ")[0])
        return original_get_client(self, purpose)

    ClickHouseResource.get_client = get_client

    original_cli = MeteringDbtCliResource.cli

    def cli(self, args, **kwargs):
        hooks.note(kind="dbt")
        threading.Thread(target=watch_dbt, args=(self.clickhouse_url,), daemon=True).start()
        return original_cli(self, args, **kwargs)

    def watch_dbt(url: str) -> None:
        """Note when the dbt subprocess holds the warehouse (its engine lock says so); a dbt plan kills `delay` s later."""
        lock = lock_path_for(embedded_path(url))
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if '"purpose": "dbt"' in lock.read_text():
                    break
            except OSError:
                pass
            time.sleep(0.01)
        hooks.note(kind="dbt_lock")
        if hooks.plan["kind"] == "dbt":
            time.sleep(hooks.plan["delay"])
            hooks.kill(f"{hooks.plan['delay']:.2f}s after dbt took the warehouse")

    MeteringDbtCliResource.cli = cli
    return hooks


def preload() -> None:
    """Everything a run imports, imported once (the fork server's warm state). Starts no thread."""
    import dagster  # noqa: F401
    import great_expectations  # noqa: F401

    import metering_pipeline.validate.gx_runner  # noqa: F401
    from metering_pipeline.definitions import defs

    defs.resolve_job_def("hourly_metering")


def run_job(request: dict) -> int:
    hooks = install(request.get("plan"), request["trace"])
    import dagster as dg

    from metering_pipeline.definitions import defs

    job = defs.resolve_job_def("hourly_metering")
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(partition_key=request["key"], instance=instance, raise_on_error=False)
    hooks.note(kind="done", success=result.success)
    return 0 if result.success else 1


def serve() -> None:
    """Fork server: preload, then per request line fork a child that runs the job in its own session."""
    preload()
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 3
            try:
                os.setsid()
                log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                os.dup2(log, 1)
                os.dup2(log, 2)
                os.environ.clear()
                os.environ.update(request["env"])
                code = run_job(request)
            except BaseException:  # noqa: BLE001 - the child reports everything through its exit code and log
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        out.write(json.dumps({"pid": pid}) + "\n")
        out.flush()
        _, status = os.waitpid(pid, 0)
        out.write(json.dumps({"pid": pid, "status": os.waitstatus_to_exitcode(status)}) + "\n")
        out.flush()


# --------------------------------------------------------------------------------------------- harness side


class _Handle:
    def __init__(self, pid: int, waiter):
        self.pid, self._waiter, self.status = pid, waiter, None

    def wait(self, timeout: float) -> int:
        if self.status is None:
            self.status = self._waiter(timeout)
        return self.status


class SpawnRunner:
    """A fresh `python -m ...crash_harness run` per run, in its own session."""

    def start(self, env: dict, request: dict) -> _Handle:
        with open(request["log"], "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", MODULE, "run", json.dumps(request)],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return _Handle(process.pid, lambda timeout: process.wait(timeout))

    def close(self) -> None:
        pass


class ForkServer:
    """One warm interpreter that forks a child per run; a context manager."""

    def __init__(self, env: dict | None = None, startup_timeout: float = 300.0):
        base = {**(env or os.environ), **PLACEHOLDER_ENV, "GX_ANALYTICS_ENABLED": "false"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", MODULE, "serve"],
            cwd=REPO,
            env=base,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        if self._next(startup_timeout) != "ready":
            raise RuntimeError("fork server did not start")

    def _pump(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def _next(self, timeout: float):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError("fork server did not answer") from None
        if line is None:
            raise RuntimeError(f"fork server exited ({self.process.poll()})")
        return line

    def start(self, env: dict, request: dict) -> _Handle:
        self.process.stdin.write(json.dumps({**request, "env": env}) + "\n")
        self.process.stdin.flush()
        pid = json.loads(self._next(60))["pid"]
        return _Handle(pid, lambda timeout: json.loads(self._next(timeout))["status"])

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def __enter__(self) -> "ForkServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class Outcome:
    status: int  # exit code, or -9 when killed
    seconds: float
    trace: list[dict]
    log: Path

    @property
    def killed(self) -> bool:
        return self.status == KILLED

    @property
    def stage(self) -> str:
        """Where the run was when it ended: the step (ClickHouse session or dbt) and the last thing it did."""
        step, last = "startup", None
        for event in self.trace:
            if event["kind"] == "session":
                step, last = event["purpose"], None
            elif event["kind"] == "dbt":
                step, last = "dbt", "dbt build"
            elif event["kind"] == "sql":
                last = event["text"][:70]
            elif event["kind"] == "put":
                last = f"PUT {event['key']}"
            elif event["kind"] == "open":
                last = f"reading {event['file']}"
        return f"{step}: {last}" if last else step

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def read_trace(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_hour(runner, sandbox: Sandbox, plan: dict | None = None, timeout: float = 600.0) -> Outcome:
    """One run of the hour in `sandbox`; returns when the child exited (completed, failed or killed)."""
    log, trace = sandbox.next_paths()
    started = time.monotonic()
    request = {"key": KEY, "plan": None if plan is None or plan["kind"] == "time" else plan, "trace": str(trace), "log": str(log)}
    handle = runner.start(sandbox.env(), request)
    if plan is not None and plan["kind"] == "time":
        _kill_later(handle, trace, plan["delay"], timeout)
    status = handle.wait(timeout)
    return Outcome(status, time.monotonic() - started, read_trace(trace), log)


def _kill_later(handle: _Handle, trace: Path, delay: float, timeout: float) -> None:
    """From outside: `delay` seconds after the child first opened ClickHouse, SIGKILL its process group."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if trace.exists() and '"session"' in trace.read_text():
            break
        time.sleep(0.02)
    time.sleep(delay)
    try:
        os.killpg(handle.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it finished first


# --------------------------------------------------------------------------------------------- kill points


@dataclass
class Profile:
    """What a clean run of the hour does, from its trace: the ranges random kill points are drawn from."""

    statements: int
    ingest_statements: tuple[int, int]
    puts: int
    data_puts: int
    landing_bytes: int
    dbt_seconds: float  # from dbt taking the warehouse to the end of the run
    work_seconds: float

    @classmethod
    def of(cls, trace: list[dict], landing_bytes: int) -> "Profile":
        sql = [e for e in trace if e["kind"] == "sql"]
        sessions = [(i, e["purpose"]) for i, e in enumerate(trace) if e["kind"] == "session"]
        ingest_start = next(i for i, p in sessions if p == "ingest")
        ingest_end = next(i for i, p in sessions if p != "ingest" and i > ingest_start)
        in_ingest = [e["n"] for e in trace[ingest_start:ingest_end] if e["kind"] == "sql"]
        puts = [e for e in trace if e["kind"] == "put"]
        dbt = next(e["t"] for e in trace if e["kind"] == "dbt_lock")
        first = trace[sessions[0][0]]["t"]
        return cls(
            len(sql),
            (in_ingest[0], in_ingest[-1]),
            len(puts),
            sum(not p["key"].startswith("_manifests/") for p in puts),
            landing_bytes,
            trace[-1]["t"] - dbt,
            trace[-1]["t"] - first,
        )


NAMED_POINTS = (
    "file reads",
    "ClickHouse load",
    "between the events and quarantine REPLACEs",
    "between REPLACE and staging cleanup",
    "between the usage REPLACE and cleanup",
    "between S3 PUTs",
    "before the ledger commit",
    "between ledger rows and revision row",
    "after the commit, before the manifest",
    "during dbt",
    "random statement",
    "random moment",
)


def plan_for(point: str, profile: Profile, rng: random.Random) -> dict:
    """The kill plan of a named point, its free parameter drawn from `rng` within the reference run's ranges."""
    if point == "file reads":  # the engine reads the landing files (ingest/engine.py): a statement naming LineAsString
        reads = r"(?s)^\s*(SELECT|INSERT)\b.*'LineAsString'"  # the census and the mapping; DESCRIBE reads nothing
        return {"kind": "sql", "match": reads, "nth": rng.randint(1, 2), "when": rng.choice(("before", "after"))}
    if point == "ClickHouse load":
        return {"kind": "statement", "n": rng.randint(*profile.ingest_statements), "when": rng.choice(("before", "after"))}
    if point == "between the events and quarantine REPLACEs":
        return {"kind": "sql", "match": r"^ALTER TABLE `events` REPLACE PARTITION", "when": "after"}
    if point == "between REPLACE and staging cleanup":
        return {"kind": "sql", "match": r"^ALTER TABLE `quarantine` REPLACE PARTITION", "when": "after"}
    if point == "between the usage REPLACE and cleanup":
        return {"kind": "sql", "match": r"^ALTER TABLE `usage_hourly` REPLACE PARTITION", "when": "after"}
    if point == "between S3 PUTs":
        return {"kind": "put", "n": rng.randint(1, max(1, profile.data_puts - 1)), "when": "after"}
    if point == "before the ledger commit":
        return {"kind": "sql", "match": r"^INSERT INTO export_ledger", "when": "before"}
    if point == "between ledger rows and revision row":
        return {"kind": "sql", "match": r"^INSERT INTO export_revisions", "when": "before"}
    if point == "after the commit, before the manifest":
        return {"kind": "put", "match": r"^_manifests/", "when": "before"}
    if point == "during dbt":
        return {"kind": "dbt", "delay": round(rng.uniform(0, 0.8 * profile.dbt_seconds), 2)}
    if point == "random statement":
        return {"kind": "statement", "n": rng.randint(1, profile.statements), "when": rng.choice(("before", "after"))}
    if point == "random moment":
        return {"kind": "time", "delay": round(rng.uniform(0, profile.work_seconds), 2)}
    raise ValueError(point)


# --------------------------------------------------------------------------------------------- episodes


@dataclass
class Episode:
    """Kills (each a run that died) then one completing rerun, compared with the reference."""

    name: str
    kills: list[tuple[str, str]] = field(default_factory=list)  # (point, stage the run died in)
    not_reached: list[str] = field(default_factory=list)
    diffs: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    seconds: float = 0.0


def crash_episode(
    runner, sandbox: Sandbox, points: list[str], profile: Profile, rng: random.Random, reference, endpoint: str | None = None
) -> Episode:
    from metering_pipeline_tests.support.hour_snapshot import differences, take_snapshot

    episode = Episode(sandbox.root.name)
    started = time.monotonic()
    for point in points:
        plan = plan_for(point, profile, rng)
        outcome = run_hour(runner, sandbox, plan)
        if outcome.killed:
            episode.kills.append((point, outcome.stage))
        elif outcome.status == 0:
            episode.not_reached.append(point)  # the run got past where the plan would have struck
        else:
            episode.diffs.append(f"run with kill plan {plan} failed instead of dying (exit {outcome.status}):\n{outcome.log_tail()}")
    final = run_hour(runner, sandbox)
    if final.status != 0:
        episode.diffs.append(f"rerun failed (exit {final.status}):\n{final.log_tail()}")
    else:
        candidate = take_snapshot(sandbox.clickhouse_url, sandbox.export, endpoint=endpoint)
        episode.diffs += differences(reference, candidate)
        episode.leftovers = candidate.leftovers
    episode.seconds = time.monotonic() - started
    return episode


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve()
    elif sys.argv[1] == "run":
        sys.exit(run_job(json.loads(sys.argv[2])))
