"""dbt's `json_text` macro and catalog/sql.py `json_text` read the same text out of the same JSON, on the engine.

The marts (dbt) and the hourly pipeline (Python) each read a meter's value and dimensions
with their own expression; the macro claims to be the same expression. This pins it: the
macro is rendered from the dbt project's macros/json.sql (plain Jinja, as dbt renders it)
and both expressions run over hostile JSON values and keys in one chDB query.
"""

import json

import jinja2
import pytest

from metering_pipeline.catalog.sql import json_text
from metering_pipeline.dbt.paths import DBT_PROJECT_DIR

VALUES = [
    '"plain"',
    '""',
    '"  "',
    '" padded "',
    '"null"',
    '"true"',
    '"0.1"',
    '"1.50"',
    '"-0"',
    '"esc\\u00e9\\n\\t\\"q\\" \\\\ \\/"',
    '"\\ud83d\\ude00 emoji"',
    '"caf\u00e9 \u6f22\u5b57"',
    '"it\'s"',
    '"\\u0000nul"',
    '"line\\nbreak"',
    '"{\\"not\\": \\"an object\\"}"',
    "0",
    "-0",
    "0.1",
    "-5",
    "1.50",
    "1E+2",
    "1e-10",
    "12345678901234567890123",
    "1.7976931348623157e308",
    "true",
    "false",
    "null",
    "{}",
    "[]",
    '{"a": [1, {"b": "x/y"}]}',
    '[1, 2.0, "z"]',
    '{ "spaced" : [ 1 , 2 ] }',
    '{"k": null}',
]
KEYS = [("k",), ("n", "k's"), ("missing",), ('q"uote',), ("back\\slash",), ("\u00e9t\u00e9",), ("",), ("a.b",), ("n", "missing")]


def macro_json_text(column: str, keys: tuple[str, ...]) -> str:
    """The dbt macro's SQL for `column` and `keys`, rendered from the dbt project's own file."""
    source = (DBT_PROJECT_DIR / "macros" / "json.sql").read_text(encoding="utf-8")
    module = jinja2.Environment(extensions=["jinja2.ext.do"]).from_string(source).module
    return str(module.json_text(column, list(keys))).strip()


def documents() -> list[str]:
    docs = []
    for value in VALUES:
        docs.append(
            f'{{"k": {value}, "n": {{"k\'s": {value}}}, "q\\"uote": {value}, "back\\\\slash": {value}, '
            f'"\u00e9t\u00e9": {value}, "": {value}, "a.b": {value}}}'
        )
    docs += [
        "",
        "not json",
        "[1, 2]",
        '"a string"',
        "null",
        '{"k": 1',
        '{"k": 1, "k": 2}',
        '{"k": "dup", "k": 3}',
        '{"n": "not an object"}',
        '{"k": "\\ud800 lone surrogate"}',
        '{"k": tru}',
    ]
    return docs


def test_every_document_is_what_the_cases_say():
    """The hostile values are valid JSON where meant, so both readers really see them."""
    for doc in documents()[: len(VALUES)]:
        json.loads(doc)


@pytest.mark.parametrize("keys", KEYS, ids=lambda k: "/".join(k) or "<empty>")
def test_dbt_macro_and_python_json_text_agree_on_hostile_json(clickhouse, keys):
    python_expr, params = json_text("doc", keys, "p")
    dbt_expr = macro_json_text("doc", keys)
    assert "{" not in dbt_expr, "the macro inlines its keys as string literals"
    with clickhouse.get_client() as client:
        rows = client.query(
            f"SELECT doc, {python_expr} AS python, {dbt_expr} AS dbt FROM (SELECT arrayJoin({{docs:Array(String)}}) AS doc)",
            parameters={"docs": documents(), **params},
            settings={"output_format_json_escape_forward_slashes": 0},
        ).result_rows
    differing = [(doc, python, dbt) for doc, python, dbt in rows if python != dbt]
    assert not differing, f"dbt json_text and catalog/sql.py json_text differ at {keys}: {differing[:5]}"
    assert len(rows) == len(documents())
