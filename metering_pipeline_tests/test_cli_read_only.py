"""The reporting commands (usage, status, explain, reconcile) only read: they create no database,
table or column, so a server user with `readonly = 1` can run them.

chDB has no users, so `readonly` itself cannot be granted here: these tests run each command on
a warehouse and assert that it is exactly as it was (no database on a fresh one, no column added
to an old one), which is what a read-only user needs.
"""

import pytest

from metering_pipeline.cli import main
from metering_pipeline.observability.history import PIPELINE_RUNS
from metering_pipeline.resources import ClickHouseResource

COMMANDS = [
    ["status", "--until", "2026-11-22T12:00", "--hours", "2"],
    ["usage", "--since", "2026-11-22T10:00", "--until", "2026-11-22T12:00"],
    ["reconcile", "--since", "2026-11-22T10:00", "--until", "2026-11-22T12:00"],
    ["explain", "no-such-record"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_a_reporting_command_creates_no_database(clickhouse, monkeypatch, capsys, argv):
    monkeypatch.setenv("METERING_CLICKHOUSE_URL", clickhouse.url)
    code = main(argv)
    out = capsys.readouterr()
    assert code == 2 and "database metering does not exist yet" in out.err
    with ClickHouseResource(url=clickhouse.url, database="default").get_client() as client:
        assert client.command("SELECT count() FROM system.databases WHERE name = 'metering'") == 0


def test_status_reads_a_history_from_before_failures_were_recorded(clickhouse, monkeypatch, capsys):
    """A `pipeline_runs` table without the `error` column (written by an older version, no run since)."""
    with clickhouse.get_client() as client:
        client.command(
            f"CREATE TABLE `{PIPELINE_RUNS}` (run_id String, asset LowCardinality(String), first_hour DateTime('UTC'), "
            "last_hour DateTime('UTC'), hours UInt32, started DateTime64(3, 'UTC'), finished DateTime64(3, 'UTC'), "
            "outcome LowCardinality(String), failed_checks Array(String), "
            "figures Nested(metric LowCardinality(String), labels String, value Decimal(38, 9)), recorded_at DateTime64(3, 'UTC')) "
            "ENGINE = MergeTree ORDER BY (asset, finished, run_id)"
        )
        client.command(
            f"INSERT INTO `{PIPELINE_RUNS}` (run_id, asset, first_hour, last_hour, hours, started, finished, outcome) VALUES "
            "('r1', 'accepted_events', '2026-11-22 10:00:00', '2026-11-22 10:00:00', 1, "
            "'2026-11-22 11:00:00', '2026-11-22 11:01:00', 'failure')"
        )
    monkeypatch.setenv("METERING_CLICKHOUSE_URL", clickhouse.url)
    assert main(["status", "--until", "2026-11-22T11:00", "--hours", "1", "--format", "csv"]) == 0
    [_, row] = capsys.readouterr().out.splitlines()
    assert row.startswith("2026-11-22 10:00,") and row.endswith(",accepted_events(failure)")
    with clickhouse.get_client() as client:
        columns = client.command(
            "SELECT groupArray(name) FROM system.columns WHERE database = currentDatabase() AND table = {t:String}",
            parameters={"t": PIPELINE_RUNS},
        )
    assert "error" not in columns
