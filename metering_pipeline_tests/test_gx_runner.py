"""The GX runner's expectation classes: the same verdicts as GX's own, with each configuration built once."""

import copy
from datetime import datetime

import great_expectations as gx
import pandas as pd

from metering_pipeline.validate import gx_runner
from metering_pipeline.validate.rules import RFC3339, Rule


def _rules() -> list[Rule]:
    return [
        Rule("missing_field", "ExpectColumnValuesToNotBeNull", "id", "id is missing"),
        Rule("invalid_time", "ExpectColumnValuesToMatchRegex", "time_text", "not RFC 3339", {"regex": RFC3339}),
        Rule(
            "wrong_partition",
            "ExpectColumnValuesToBeBetween",
            "time",
            "outside the hour",
            {"min_value": datetime(2026, 11, 22, 10), "max_value": datetime(2026, 11, 22, 11), "strict_max": True},
        ),
        Rule("unknown_event_type", "ExpectColumnValuesToBeInSet", "type", "no meter", {"value_set": ["a.b", "c.d"]}),
        Rule("invalid_field", "ExpectColumnValueLengthsToBeBetween", "id", "id too long", {"max_value": 4}),
    ]


def _frame() -> pd.DataFrame:
    at = datetime(2026, 11, 22, 10, 30)
    return pd.DataFrame(
        {
            "row": pd.Series([1, 2, 3, 4, 5, 6], dtype="uint64"),
            "id": ["a", None, "c", "d", "eeeeeee", "f"],
            "time_text": ["2026-11-22T10:30:00Z", "x", "2026-11-22T10:30:00Z", "nope", "2026-11-22T10:30:00Z", "2026-11-22T10:30:00Z"],
            "time": [at, at, datetime(2026, 11, 22, 11), at, at, at],
            "type": ["a.b", "a.b", "a.b", "c.d", "zz", "c.d"],
        }
    )


def test_verdicts_and_counts_equal_stock_gx(monkeypatch):
    rules = _rules()
    ours, our_outcomes = gx_runner.validate_frame(_frame(), rules)
    monkeypatch.setattr(gx_runner, "expectation_class", lambda name: getattr(gx.expectations, name))
    stock, stock_outcomes = gx_runner.validate_frame(_frame(), rules)
    assert ours.sort_values("row").reset_index(drop=True).equals(stock.sort_values("row").reset_index(drop=True))
    assert [o.failed for o in our_outcomes] == [o.failed for o in stock_outcomes] == [1, 2, 1, 1, 1]
    assert dict(zip(ours["row"], ours["reason"])) == {2: "missing_field", 3: "wrong_partition", 4: "invalid_time", 5: "invalid_field"}


def test_an_expectation_builds_its_configuration_once_and_again_after_a_change():
    ours = gx_runner.expectation_class("ExpectColumnValuesToBeBetween")(column="x", min_value=1, meta={"rule": 0})
    stock = gx.expectations.ExpectColumnValuesToBeBetween(column="x", min_value=1, meta={"rule": 0})
    built = ours.configuration
    assert ours.configuration is built
    assert built.kwargs == stock.configuration.kwargs and built.meta == stock.configuration.meta
    ours.min_value = 5
    assert ours.configuration.kwargs["min_value"] == 5
    ours.id = "kept"
    assert ours.configuration.id == "kept"  # built again, and kept when the copy below is made
    duplicate = copy.copy(ours)  # GX's __copy__ clears the id
    assert duplicate.configuration.id is None
    assert duplicate.configuration.kwargs["min_value"] == 5
