"""The SQL pre-screen: GX sees only suspects, misses nothing, and a drifted mirror fails loudly."""

import json

import pytest

from metering_pipeline.catalog.sql import json_decimal, json_text
from metering_pipeline.ingest import hour as hour_module
from metering_pipeline.validate import prescreen
from metering_pipeline.validate.rules import value_column, value_rules
from metering_pipeline_tests.support.events import land, line, query, run_hour


def test_clean_lines_never_reach_gx_and_bad_ones_all_do(clickhouse, landing, landing_dir, catalog_resource, monkeypatch):
    seen = []
    original = hour_module.validate_frame
    monkeypatch.setattr(hour_module, "validate_frame", lambda frame, rules: seen.append(len(frame)) or original(frame, rules))
    bad = [
        line("late", time="2026-11-22T10:61:00Z"),
        line("early", time="2026-11-22T09:61:00Z"),
        line("neg", data={"service_id": "s", "bytes_sent": -1, "bytes_received": 0}),
    ]
    land(landing_dir, "a.ndjson", [line(f"g{i}") for i in range(2000)] + bad)
    run_hour(clickhouse, landing, catalog_resource)
    assert sum(seen) < 100  # ~2000/512 guard rows plus the suspects, not the hour
    assert dict(query(clickhouse, "SELECT reason, count() FROM quarantine GROUP BY reason")) == {"invalid_time": 2, "invalid_value": 1}
    assert query(clickhouse, "SELECT count() FROM events") == [(2000,)]


def test_a_drifted_mirror_fails_the_hour(clickhouse, landing, landing_dir, catalog_resource, monkeypatch):
    original = prescreen.rule_predicate
    monkeypatch.setattr(
        prescreen, "rule_predicate", lambda rule, name: ("0", {}) if rule.reason == "unknown_event_type" else original(rule, name)
    )
    monkeypatch.setattr(prescreen, "GUARD_MODULO", 1)
    land(landing_dir, "a.ndjson", [line("ok"), line("odd", type="coffee.brewed")])
    with pytest.raises(Exception, match="pre-screen passed"):
        run_hour(clickhouse, landing, catalog_resource)


VALUE_TEXTS = [
    "0",
    "7",
    "007",
    "1.5",
    "10954",
    "-1",
    "-0",
    "-2.5",
    "1.",
    ".5",
    " 5",
    "5 ",
    "+5",
    "1e3",
    "1E-10",
    "1e300",
    "0.0000000001",
    "0.000000001",
    "1.0000000000",
    "12345678901234567890",
    "123456789012345678901",
    "123456789012345678901234567890",
    "99999999999999999999.999999999",
    "lots",
    "",
    "NaN",
    "inf",
    "0x10",
    "1_000",
    "\u0663",
    "\uff11",
    "5\n",
]


@pytest.mark.parametrize("aggregation", ["sum", "max", "unique_count"])
def test_value_screen_passes_only_values_their_rules_pass(clickhouse, aggregation):
    """Unsound screens would let bad values skip GX: every value the screen passes converts (and, for sums, is not negative)."""
    docs = [json.dumps({"v": text}) for text in VALUE_TEXTS]
    docs += [f'{{"v": {text}}}' for text in VALUE_TEXTS if _is_json_number(text)]
    docs += ['{"v": null}', '{"v": true}', '{"v": {"x": 1}}', '{"v": [1]}', "{}", '{"w": 1}']
    text, text_params = json_text("data", ("v",), "k")
    value, value_params = (json_text if aggregation == "unique_count" else json_decimal)("data", ("v",), "k")
    screen, screen_params = prescreen.value_screen(aggregation, text)
    with clickhouse.get_client() as client:
        rows = client.query(
            f"SELECT data, {screen} AS suspect, {value} AS value FROM (SELECT arrayJoin({{docs:Array(String)}}) AS data)",
            parameters={"docs": docs, **text_params, **value_params, **screen_params},
        ).result_rows
    passed = {data: value for data, suspect, value in rows if not suspect}
    assert all(value is not None for value in passed.values())
    if aggregation == "sum":
        assert all(value >= 0 for value in passed.values())
    assert {'{"v": "7"}', '{"v": 10954}', '{"v": "1.5"}'} <= set(passed)  # plain values never reach GX


def _is_json_number(text: str) -> bool:
    try:
        return isinstance(json.loads(text), (int, float)) and text.strip() == text
    except ValueError:
        return False


def test_value_screens_stand_in_only_for_the_rules_they_judge(catalog_resource):
    """A screen replaces the mirrors of its column's rules, so value_rules may hold only what it judges:
    a value must exist and, for sums only, not be negative. A new value rule must come with a new screen."""
    catalog = catalog_resource.load()
    columns = {value_column(index): meter.aggregation for index, meter in enumerate(catalog.meters)}
    rules = value_rules(catalog)
    for rule in rules:
        kind = (rule.expectation, tuple(sorted(rule.kwargs.items())))
        assert kind == ("ExpectColumnValuesToNotBeNull", ()) or (
            kind == ("ExpectColumnValuesToBeBetween", (("min_value", 0),)) and columns[rule.column] == "sum"
        ), rule
    assert {columns[rule.column] for rule in rules} == {"sum", "unique_count"}
