"""Staging tables: dropped with their step, never merged while they live (copies of the pipeline's tables
merge once swapped in), work tables one file per part."""

from datetime import datetime

import pytest

from metering_pipeline.warehouse.staging import staging, swap_partition
from metering_pipeline.warehouse.tables import EVENTS, ensure_tables


@pytest.fixture
def client(clickhouse):
    with clickhouse.get_client() as client:
        yield client


def _parts(client, table: str) -> int:
    return client.command("SELECT count() FROM system.parts WHERE active AND table = {t:String}", parameters={"t": table})


def test_work_tables_are_not_merged(client):
    """A merge of a table about to be dropped only takes cores from the step: even OPTIMIZE finds nothing to merge."""
    with staging(client) as area:
        work = area.table("work", "x UInt64")
        for start in (0, 1000, 2000):
            client.command(f"INSERT INTO `{work}` SELECT number FROM numbers({start}, 1000)")
        client.command(f"OPTIMIZE TABLE `{work}`")
        assert _parts(client, work) == 3
        assert client.command(f"SELECT count() FROM `{work}`") == 3000
    assert _parts(client, work) == 0


def test_copies_of_pipeline_tables_merge_only_once_swapped_in(client):
    """A staging copy's merge is dropped with the copy: its parts are merged in the table they are swapped into."""
    hour = datetime(2026, 11, 22, 10)
    ensure_tables(client, EVENTS)
    with staging(client) as area:
        events = area.like(EVENTS)
        for event_id in ("a", "b"):
            client.command(
                f"INSERT INTO `{events}` (source, id, type, hour, time) VALUES ('s', {{i:String}}, 't', {{h:DateTime}}, {{h:DateTime}})",
                parameters={"i": event_id, "h": hour},
            )
        client.command(f"OPTIMIZE TABLE `{events}`")
        assert _parts(client, events) == 2
        swap_partition(client, EVENTS, events, hour)
    client.command(f"OPTIMIZE TABLE `{EVENTS}`")
    assert _parts(client, EVENTS) == 1
    assert client.query(f"SELECT id FROM `{EVENTS}` ORDER BY id").result_rows == [("a",), ("b",)]


def test_work_tables_write_compact_parts(client):
    """One file per part, whatever its size: a wide part of this table would be two files per column."""
    with staging(client) as area:
        work = area.table("work", "x UInt64, y String")
        client.command(f"INSERT INTO `{work}` SELECT number, toString(number) FROM numbers(2000000)")  # ~30 MB, wide by default
        kinds = client.query(
            "SELECT DISTINCT part_type FROM system.parts WHERE active AND table = {t:String}", parameters={"t": work}
        ).result_rows
    assert kinds == [("Compact",)]
