"""json_text and json_decimal on the real engine: what a meter reads out of an event's data."""

import json
from decimal import Decimal

import pytest

from metering_pipeline.catalog.sql import json_decimal, json_text

CASES = [
    ('"plain"', "plain"),
    ('""', ""),
    ('"  "', "  "),
    ('"esc\\u00e9\\n"', "escé\n"),
    ('"0.1"', "0.1"),
    ("0.1", "0.1"),
    ("-5", "-5"),
    ("1.50", "1.5"),
    ("1E+2", "100"),
    ("true", "true"),
    ("null", None),
    ('{"a": [1, {"b": "x/y"}]}', '{"a":[1,{"b":"x/y"}]}'),
    ('[1, 2.0, "z"]', '[1,2,"z"]'),
]


@pytest.mark.parametrize(("value", "expected"), CASES)
def test_json_text_reads_top_level_and_nested_paths(clickhouse, value, expected):
    doc = f'{{"k": {value}, "n": {{"k\'s": {value}}}}}'
    top, top_params = json_text("{doc:String}", ("k",), "p")
    nested, nested_params = json_text("{doc:String}", ("n", "k's"), "q")
    absent, absent_params = json_text("{doc:String}", ("missing",), "r")
    with clickhouse.get_client() as client:
        row = client.query(
            f"SELECT {top}, {nested}, {absent}",
            settings={"output_format_json_escape_forward_slashes": 0},
            parameters={"doc": doc, **top_params, **nested_params, **absent_params},
        ).result_rows[0]
    assert row == (expected, expected, None)


def test_json_decimal_is_exact_or_null_never_rounded(clickhouse):
    """Digits below 1e-9 would be truncated by Decimal(38, 9): such a value is NULL (quarantined), not rounded."""
    doc = json.dumps(
        {
            "s": "0.1",
            "n": 0.1,
            "big": "12345678901234567890.123456789",
            "bad": "lots",
            "obj": {},
            "fine": "0.1234567891",
            "zeros": "0.10000000000",
            "tiny": 1e-10,
            "exp": "1.5e3",
        }
    )
    keys = ("s", "n", "big", "bad", "obj", "fine", "zeros", "tiny", "exp")
    exprs, params = [], {"doc": doc}
    for index, key in enumerate(keys):
        expr, p = json_decimal("{doc:String}", (key,), f"k{index}")
        exprs.append(expr)
        params.update(p)
    with clickhouse.get_client() as client:
        row = client.query(f"SELECT {', '.join(exprs)}", parameters=params).result_rows[0]
    assert row == (
        Decimal("0.1"),
        Decimal("0.1"),
        Decimal("12345678901234567890.123456789"),
        None,
        None,
        None,
        Decimal("0.1"),
        None,
        Decimal("1500"),
    )
