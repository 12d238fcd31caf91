"""Staging work tables: dropped with their step, never merged while they live, one file per part."""

import pytest

from metering_pipeline.warehouse.staging import staging


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


def test_copies_of_pipeline_tables_keep_their_merges(client):
    """Staging copies are swapped into the real tables, whose parts should merge as usual."""
    with staging(client) as area:
        events = area.like("events")
        for _ in range(2):
            client.command(
                f"INSERT INTO `{events}` (source, id, type, hour, time) "
                "VALUES ('s', 'i', 't', '2026-11-22 10:00:00', '2026-11-22 10:00:00')"
            )
        client.command(f"OPTIMIZE TABLE `{events}`")
        assert _parts(client, events) == 1


def test_work_tables_write_compact_parts(client):
    """One file per part, whatever its size: a wide part of this table would be two files per column."""
    with staging(client) as area:
        work = area.table("work", "x UInt64, y String")
        client.command(f"INSERT INTO `{work}` SELECT number, toString(number) FROM numbers(2000000)")  # ~30 MB, wide by default
        kinds = client.query(
            "SELECT DISTINCT part_type FROM system.parts WHERE active AND table = {t:String}", parameters={"t": work}
        ).result_rows
    assert kinds == [("Compact",)]
