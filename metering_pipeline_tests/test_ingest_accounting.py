"""The hour's reconciliation per landing source (ingest/accounting.py) on the engine-read differential's
hostile hour: every format's fuzzed lines, oversized lines, corrupt and truncated gzip, a decompression
bomb, duplicates across files. Per source, lines read = accepted + duplicates + quarantined; the sources
add up to the hour's figures; and both readers give the same breakdown."""

from collections import Counter

from metering_pipeline.catalog import load_catalog
from metering_pipeline.ingest.hour import ingest_hour
from metering_pipeline.ingest.metadata import events_metadata
from metering_pipeline.resources import ClickHouseResource
from metering_pipeline_tests.support.crash_harness import write_catalog
from metering_pipeline_tests.support.hostile import FORMATS
from metering_pipeline_tests.test_engine_read import HOUR, LIMITS, _hostile_hour, _write_local


def test_each_landing_source_reconciles_and_the_sources_add_up_to_the_hour(tmp_path):
    catalog = load_catalog(write_catalog(tmp_path / "catalog.yaml"))
    landing = _write_local(tmp_path / "landing", _hostile_hour(tmp_path))
    with ClickHouseResource(url=f"chdb://{tmp_path / 'ch'}").get_client() as client:
        python = ingest_hour(client, landing, catalog, HOUR, reader="python", **LIMITS)
        engine = ingest_hour(client, landing, catalog, HOUR, reader="file", **LIMITS)
    assert engine.fallback  # some files were handed back to the Python reader
    for report in (python, engine):
        figures = report.by_source
        assert set(figures) == {*FORMATS.values(), "events"}
        for source, f in figures.items():
            assert f.lines_read == f.accepted + f.duplicates + sum(f.quarantined.values()), source
        assert sum(f.lines_read for f in figures.values()) == report.lines_read
        assert sum(f.accepted for f in figures.values()) == report.accepted
        assert sum(f.duplicates for f in figures.values()) == report.duplicates > 0
        assert sum((f.quarantined for f in figures.values()), Counter()) == report.quarantined
        assert sum(sum(f.events.values()) for f in figures.values()) == report.events
        assert all(f.accepted and sum(f.quarantined.values()) for f in figures.values())  # the fuzz reaches every source
    assert {s: f.as_metadata() for s, f in engine.by_source.items()} == {s: f.as_metadata() for s, f in python.by_source.items()}
    by_source = events_metadata([python, engine])["by_source"].value  # a two-hour step adds its hours up
    assert by_source["events"]["lines_read"] == 2 * python.by_source["events"].lines_read
