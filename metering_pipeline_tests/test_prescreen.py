"""The SQL pre-screen: GX sees only suspects, misses nothing, and a drifted mirror fails loudly."""

import pytest

from metering_pipeline.ingest import hour as hour_module
from metering_pipeline.validate import prescreen
from metering_pipeline_tests.support.events import land, line, query, run_hour


def test_clean_lines_never_reach_gx_and_bad_ones_all_do(clickhouse, landing, landing_dir, catalog_resource, monkeypatch):
    seen = []
    original = hour_module.validate_frame
    monkeypatch.setattr(hour_module, "validate_frame", lambda frame, rules: seen.append(len(frame)) or original(frame, rules))
    bad = [line("late", time="2026-11-22T10:61:00Z"), line("early", time="2026-11-22T09:61:00Z"), line("neg", data={"service_id": "s", "bytes_sent": -1, "bytes_received": 0})]
    land(landing_dir, "a.ndjson", [line(f"g{i}") for i in range(2000)] + bad)
    run_hour(clickhouse, landing, catalog_resource)
    assert sum(seen) < 100  # ~2000/512 guard rows plus the suspects, not the hour
    assert dict(query(clickhouse, "SELECT reason, count() FROM quarantine GROUP BY reason")) == {"invalid_time": 2, "invalid_value": 1}
    assert query(clickhouse, "SELECT count() FROM events") == [(2000,)]


def test_a_drifted_mirror_fails_the_hour(clickhouse, landing, landing_dir, catalog_resource, monkeypatch):
    original = prescreen.rule_predicate
    monkeypatch.setattr(prescreen, "rule_predicate",
                        lambda rule, name: ("0", {}) if rule.reason == "unknown_event_type" else original(rule, name))
    monkeypatch.setattr(prescreen, "GUARD_MODULO", 1)
    land(landing_dir, "a.ndjson", [line("ok"), line("odd", type="coffee.brewed")])
    with pytest.raises(Exception, match="pre-screen passed"):
        run_hour(clickhouse, landing, catalog_resource)
