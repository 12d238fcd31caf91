"""Cluster mode (METERING_CLICKHOUSE_CLUSTER): the statements it emits, checked by ClickHouse's own parser.

No ClickHouse server or cluster runs on these machines (Debian's clickhouse-server is 18.16),
so cluster-only statements cannot be executed here. What is verified: the exact statements
the pipeline's own functions send in cluster mode (recorded at a client stand-in, the one
thing mocked), that each one parses with the ClickHouse parser of chDB 4.4 (`formatQuery`),
and that the embedded mode sends none of them.
"""

import os
import re
import subprocess
import sys
from datetime import datetime

import dagster as dg
import pytest

from metering_pipeline.alerts.tables import ensure_alert_tables
from metering_pipeline.attribution.stage import ensure_attribution_table
from metering_pipeline.catalog.lifecycle import recorded_published
from metering_pipeline.export.ledger import commit, ensure_ledger
from metering_pipeline.ingest.engine import EngineRead
from metering_pipeline.resources import ClickHouseResource
from metering_pipeline.warehouse.staging import swap_partition
from metering_pipeline.warehouse.tables import ensure_tables
from metering_pipeline.warehouse.topology import release_memory, with_cluster

HOUR = datetime(2026, 11, 22, 10)


class Recorder:
    """Stands in for a server connection: records statements, answers queries with no rows."""

    def __init__(self):
        self.sent: list[str] = []
        self.settings: list[dict] = []

    def command(self, sql, parameters=None, settings=None):
        self.sent.append(sql)
        return 0

    def query(self, sql, parameters=None, settings=None):
        self.sent.append(sql)
        return type("Result", (), {"result_rows": []})()

    def insert(self, table, rows, column_names=None, settings=None):
        self.sent.append(f"INSERT INTO `{table}`")
        self.settings.append(settings or {})


def _emit(cluster: str) -> Recorder:
    client = with_cluster(Recorder(), cluster)
    ensure_tables(client)
    ensure_ledger(client)
    ensure_alert_tables(client)
    ensure_attribution_table(client, "tenant_attribution")
    recorded_published(client)
    swap_partition(client, "events", "_stage_x_events", HOUR)
    commit(client, HOUR, 0, [["row"]], "manifest.json", "abc", 1)
    return client


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """One chDB engine for the module (a process opens one chDB directory at a time)."""
    with ClickHouseResource(url=f"chdb://{tmp_path_factory.mktemp('parser') / 'ch'}").get_client() as client:
        yield client


@pytest.fixture(scope="module")
def parser(embedded):
    return lambda sql: embedded.query("SELECT formatQuery({q:String})", parameters={"q": sql}).result_rows[0][0]


def test_cluster_mode_creates_replicated_tables_on_the_cluster_and_syncs_before_each_swap(parser):
    client = _emit("billing")
    creates = [s for s in client.sent if s.startswith("CREATE TABLE")]
    names = [re.match(r"CREATE TABLE IF NOT EXISTS `(\w+)`", s).group(1) for s in creates]
    owned = {"events", "quarantine", "usage_hourly", "export_ledger", "export_revisions", "tenant_attribution", "published_meters"}
    assert owned <= set(names) and len(names) == len(set(names)) >= 10, names
    for statement in creates:
        assert " ON CLUSTER `billing` (" in statement and "ENGINE = Replicated" in statement, statement
    swap = next(i for i, s in enumerate(client.sent) if "REPLACE PARTITION" in s)
    assert client.sent[swap - 1] == "SYSTEM SYNC REPLICA `events` LIGHTWEIGHT"
    assert [s["insert_deduplication_token"] for s in client.settings] == ["ledger-2026112210-0", "revision-2026112210-0"]
    for statement in client.sent:
        if not statement.startswith("INSERT"):
            formatted = parser(statement)  # raises on a statement ClickHouse cannot parse
            assert formatted.split()[0] == statement.split()[0]
    assert "LIGHTWEIGHT" in parser("SYSTEM SYNC REPLICA `events` LIGHTWEIGHT")
    with pytest.raises(Exception, match="Syntax error"):  # the parser does refuse what ClickHouse would
        parser("CREATE TABLE t ON CLUSTR `billing` (a UInt8) ENGINE = ReplicatedMergeTree ORDER BY a")


def test_one_engine_sends_none_of_the_cluster_statements():
    client = _emit("")
    assert not [s for s in client.sent if "ON CLUSTER" in s or "Replicated" in s or s.startswith("SYSTEM")]
    assert client.settings == [{}, {}]


def test_only_the_embedded_engine_is_asked_to_release_its_memory(embedded, monkeypatch):
    server = Recorder()
    release_memory(server)
    assert server.sent == []
    sent, original = [], embedded.command
    monkeypatch.setattr(embedded, "command", lambda sql, **kwargs: (sent.append(sql), original(sql, **kwargs))[1])
    release_memory(embedded)  # runs on the real engine: ClickHouse accepts the statement
    assert sent == ["SYSTEM JEMALLOC PURGE"]


def test_the_cluster_reads_the_landing_zone_with_s3cluster_and_a_named_collection(parser):
    read = EngineRead(function="s3Cluster", cluster="billing", collection="landing_s3")
    sql, params = read.relation("events", "e0_")
    assert "s3Cluster(billing, landing_s3, url = {e0_glob:String}, format = 'LineAsString')" in sql
    assert parser(sql).startswith("SELECT")
    assert set(params) == {"e0_glob", "e0_paths", "e0_index", "e0_names", "e0_source", "e0_max"}  # no credential among them


def test_a_cluster_name_is_an_identifier():
    with pytest.raises(ValueError, match="METERING_CLICKHOUSE_CLUSTER"):
        with ClickHouseResource(url="http://127.0.0.1:1", cluster="x; DROP TABLE events").get_client():
            pass


def test_backfills_run_in_parallel_only_against_a_server():
    from metering_pipeline.schedules import SINGLE_RUN, backfill_policy

    assert backfill_policy(None, "http://u:p@host:8123") == SINGLE_RUN
    assert backfill_policy("24", "https://u:p@host:8443") == dg.BackfillPolicy.multi_run(24)
    with pytest.raises(ValueError, match="needs a ClickHouse server"):
        backfill_policy("24", "chdb:///var/lib/metering")
    with pytest.raises(ValueError, match="at least 1"):
        backfill_policy("0", "http://host:8123")


def test_the_definitions_load_with_multi_run_backfills_against_a_server(tmp_path):
    """In a fresh process, as a code location loads: every asset gets the multi-run policy, and nothing connects."""
    script = (
        "from metering_pipeline.definitions import defs\n"
        "import dagster as dg\n"
        "policies = {str(a.backfill_policy) for a in defs.assets if isinstance(a, dg.AssetsDefinition)}\n"
        "print(sorted(policies))\n"
    )
    env = {
        **os.environ,
        "METERING_BACKFILL_HOURS_PER_RUN": "24",
        "METERING_CLICKHOUSE_URL": "http://metering:pw@127.0.0.1:1",
        "METERING_HOME": str(tmp_path),
    }
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(sorted({str(dg.BackfillPolicy.multi_run(24))})), done.stdout
