"""Parsing each line once (formats/parsed.py) maps exactly as the per-field JSON functions did.

The mapping used to read every field with its own `JSONType` / `JSONExtractString` /
`JSONExtractRaw` call on the line (each one a parse of the whole line); it now parses the
line once and reads fields off the members' raw texts. `PerCallLine` below holds the old
expressions, verbatim; patched in for ParsedLine, it rebuilds each adapter's old mapping,
and both mappings must give identical rows (values and column types) for a corpus of tricky
lines: the hostile generator's lines, every field of every format set to hostile and tricky
JSON (numbers that do not survive a second parse, big integers, escapes, unicode, empty
strings, wrong types), duplicate keys with different types, escaped keys, nested objects,
and lines that are not JSON objects at all.
"""

import json
import random
from dataclasses import replace

import pyarrow as pa
import pytest

from metering_pipeline.catalog import load_catalog
from metering_pipeline.ingest.formats import format_mapping
from metering_pipeline.ingest.formats.canonical import _inner, stage_mapped
from metering_pipeline.ingest.formats.mapping import JSON_OBJECT
from metering_pipeline.ingest.formats.parsed import ParsedLine
from metering_pipeline.ingest.load import LINES_COLUMNS
from metering_pipeline.resources import ClickHouseResource
from metering_pipeline.warehouse.staging import staging
from metering_pipeline_tests.fixtures.landing import FIXTURES
from metering_pipeline_tests.support.hostile import FORMATS, HOSTILE_JSON, RandomChooser, _record, random_lines

SETTINGS = {"output_format_json_escape_forward_slashes": 0}  # as stage_mapped inserts
TRICKY_JSON = (
    # numbers: Double vs Int64 written alike, values a second parse changes, the 64-bit edges
    "1.0",
    "-0.0",
    "0.0",
    "1E2",
    "1e20",
    "-1e20",
    "1e19",
    "-1e19",
    "1e21",
    "1.8446744073709552e19",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "9223372036854775807",
    "5e-324",
    "1.7976931348623157e308",
    "1e-400",
    # strings: escapes, unicode escapes and pairs, slashes, things that look like other kinds
    '" "',
    '"a/b"',
    '"\\/x\\/y"',
    '"say \\"hi\\""',
    '"back\\\\slash"',
    '"\\b\\f\\n\\r\\t"',
    '"\\u00e9\\u4e2d"',
    '"\u00e9\u4e2d"',
    '"\\ud83d\\ude00"',
    '"\\u2028\\u2029"',
    '"\\u001f"',
    '"1001"',
    '"-12"',
    '"0"',
    '"-0"',
    '"12345678901234567890123"',
    '"null"',
    '"true"',
    '"{}"',
    '"[1]"',
    '"{\\"a\\":1}"',
    '"2026-11-22T10:30:00Z"',
    '"-"',
    # containers holding values a second parse changes, duplicate keys inside
    '{"a":-0.0,"b":1e20,"c":"x\\/y","a":2}',
    '[-0.0,1e20,{"k":"v","k":1}]',
    '{"usage":-0.0,"usage":1}',
    '{ "sp" : [ 1 , 2.50 ] }',
)
VALUES = HOSTILE_JSON + TRICKY_JSON
DUPLICATES = (
    ('"first"', '"second"'),
    ("1", '"string"'),
    ('"string"', "1"),
    ("null", '"x"'),
    ('{"o":1}', '"x"'),
    ("1.0", "2"),
    ('"\\u0041"', '"B"'),
    ("-0.0", "1e20"),
)
NOT_OBJECTS = (
    b"",
    b"{}",
    b" {} ",
    b"[]",
    b"null",
    b'"a string"',
    b"42",
    b"{",
    b'{"a":1} x',
    b'{"a":1}{"b":2}',
    b'\xef\xbb\xbf{"a":1}',
    b'{"a":"\xff"}',
    b'{"a":"\\ud800"}',
    b'{"a":1e400}',
    b'{"":1}',
    b'{"a":1,"a":2}',
)


class Raw(str):
    """JSON text to put in a line as is."""


def render(value) -> str:
    if isinstance(value, Raw):
        return value
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list) and value and all(isinstance(p, tuple) for p in value):  # members, duplicates allowed
        return "{" + ",".join(f"{json.dumps(k)}:{render(v)}" for k, v in value) + "}"
    return json.dumps(value, ensure_ascii=False)


def paths(record: dict, prefix=()) -> list[tuple[str, ...]]:
    found = []
    for key, value in record.items():
        found.append(prefix + (key,))
        if isinstance(value, dict):
            found += paths(value, prefix + (key,))
    return found


def edited(record: dict, path: tuple[str, ...], edit) -> dict:
    """A deep copy of `record` with `edit(parent, key)` applied at `path`."""
    copy = json.loads(json.dumps(record))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    edit(parent, path[-1])
    return copy


def with_duplicate(record: dict, path: tuple[str, ...], first: str, second: str) -> dict:
    def edit(parent, key):
        members = [(k, v) for k, v in parent.items() if k != key] + [(key, Raw(first)), ("between", 1), (key, Raw(second))]
        parent.clear()
        parent["__members__"] = members

    copy = edited(record, path, edit)

    def unwrap(value):
        if isinstance(value, dict):
            if "__members__" in value:
                return [(k, unwrap(v)) for k, v in value["__members__"]]
            return {k: unwrap(v) for k, v in value.items()}
        return value

    return unwrap(copy)


def corpus(fmt: str) -> list[bytes]:
    rng = random.Random(20261122)
    record = _record(fmt, RandomChooser(rng))
    lines = [render(record)]
    for path in paths(record):
        lines += [render(edited(record, path, lambda p, k, v=v: p.__setitem__(k, Raw(v)))) for v in VALUES]
        lines.append(render(edited(record, path, lambda p, k: p.pop(k))))
        lines += [render(with_duplicate(record, path, a, b)) for a, b in DUPLICATES]
    escaped_keys = [line.replace('"id":', '"\\u0069d":').replace('"time"', '"t\\u0069me"') for line in lines[:3]]
    data = [line.encode() for line in lines + escaped_keys]
    data += [b" \t" + data[0] + b" ", data[0] + b"\r", *NOT_OBJECTS]
    data += random_lines(fmt, rng, 1500)
    if fmt != "cloudevents":  # the formats' fixtures
        data += [line for f in sorted((FIXTURES / fmt).glob("*.ndjson")) for line in f.read_bytes().splitlines()]
    return data


class PerCallLine:
    """The expressions the adapters used before the line was parsed once: one JSON call (one parse) each."""

    def __init__(self):
        self.columns = {}

    ok = JSON_OBJECT
    record = "JSONExtractKeysAndValuesRaw(raw)"

    def raw(self, keys, args):
        return f"JSONExtractRaw(raw, {', '.join(args)})"

    def kind(self, keys, args):
        return f"nullIf(toString(JSONType(raw, {', '.join(args)})), 'Null')"

    def string(self, keys, args):
        path = ", ".join(args)
        return f"if(JSONType(raw, {path}) = 'String', JSONExtractString(raw, {path}), NULL)"

    def text(self, keys, args):  # catalog.sql.json_text
        path = ", ".join(args)
        return (
            f"if(JSONType(raw, {path}) = 'String', JSONExtractString(raw, {path}), nullIf(nullIf(JSONExtractRaw(raw, {path}), ''), 'null'))"
        )

    def object(self, keys, args, otherwise):
        path = ", ".join(args)
        return f"if(JSONType(raw, {path}) = 'Object', JSONExtractRaw(raw, {path}), {otherwise})"

    def members(self, keys, args):
        return f"JSONExtractKeysAndValuesRaw(raw, {', '.join(args)})"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with ClickHouseResource(url=f"chdb://{tmp_path_factory.mktemp('parse_once') / 'ch'}").get_client() as client:
        yield client


def load(client, table: str, source: str, lines: list[bytes]) -> None:
    client.command(f"DROP TABLE IF EXISTS `{table}`")
    client.command(f"CREATE TABLE `{table}` ({LINES_COLUMNS}) ENGINE = MergeTree ORDER BY row")
    n = len(lines)
    client.insert_arrow(
        table,
        pa.table(
            {
                "row": pa.array(range(1, n + 1), pa.uint64()),
                "landing_source": pa.array([source] * n),
                "source_file": pa.array(["corpus.ndjson"] * n),
                "line_no": pa.array(range(1, n + 1), pa.uint32()),
                "raw": pa.array(lines, pa.binary()),
            }
        ),
    )


def old_and_new(monkeypatch, source, prefix="s0"):
    with monkeypatch.context() as patched:
        for name in ("__init__", "ok", "record", "raw", "kind", "string", "text", "object", "members"):
            patched.setattr(ParsedLine, name, PerCallLine.__dict__[name])
        old = format_mapping(source, prefix)
    return old, format_mapping(source, prefix)


def rows(client, sql: str, params: dict) -> list[tuple]:
    return client.query(f"SELECT * FROM ({sql}) ORDER BY row, sub", parameters=params, settings=SETTINGS).result_rows


def types(client, sql: str, params: dict) -> list[tuple]:
    return [(name, kind) for name, kind, *_ in client.query(f"DESCRIBE TABLE ({sql})", parameters=params).result_rows]


def nested(source):
    """The billing-client source with amounts and metadata one and two levels down (kinds and explode of nested paths)."""
    fields = {**source.fields, "amounts": (("usage", "amounts"),), "metadata": (("meta", "m d", "x"), ("metadata",))}
    return replace(source, fields=fields)


def nested_corpus() -> list[bytes]:
    base = {
        "unique_key": "k",
        "internal_instance_id": "1001",
        "occurred_at": "2026-11-22T10:07:42Z",
        "usage": {"amounts": {"samples": 1, "gpu": 2}},
        "meta": {"m d": {"x": {"c": "eu"}}},
    }
    lines = []
    for path in paths(base):
        lines += [render(edited(base, path, lambda p, k, v=v: p.__setitem__(k, Raw(v)))) for v in VALUES]
        lines += [render(with_duplicate(base, path, a, b)) for a, b in DUPLICATES]
    return [line.encode() for line in lines]


CASES = {fmt: fmt for fmt in FORMATS} | {"billing_client_nested": "billing_client"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_mapped_rows_are_those_of_the_per_field_json_functions(client, monkeypatch, case):
    fmt = CASES[case]
    catalog = load_catalog()
    source = next(s for s in catalog.sources if s.name == FORMATS[fmt])
    lines = corpus(fmt)
    if case.endswith("_nested"):
        source, lines = nested(source), lines + nested_corpus()
    table = f"lines_{case}"
    load(client, table, source.name, lines)
    old, new = old_and_new(monkeypatch, source)
    assert not old.line and new.line, "the old mapping must be the per-call one"
    params = {**new.params, "mapped_source": source.name}
    assert old.params == new.params
    old_sql, new_sql = _inner(old, table), _inner(new, table)
    assert new_sql.count("JSONExtractKeysAndValuesRaw(raw)") == 1  # one parse; JSON calls on the line are fallbacks

    assert types(client, new_sql, params) == types(client, old_sql, params)
    expected, got = rows(client, old_sql, params), rows(client, new_sql, params)
    assert len(got) == len(expected)
    different = [(e, g) for e, g in zip(expected, got) if e != g]
    assert not different, f"{len(different)} rows differ, first: {different[0]}"
    mapped = {row[0] for row in expected}
    assert len(lines) > len(mapped) > 0.5 * len(lines)  # most lines map, the non-objects do not


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_the_mapped_table_answers_every_column_as_the_mapping_computes_it(client, fmt):
    """A column that only renames another (`Mapping.aliases`: CloudEvents' `id` is `f_id`) is
    stored once and declared ALIAS in the mapped table; read back, every column holds what the
    mapping's SELECT gives it."""
    source = next(s for s in load_catalog().sources if s.name == FORMATS[fmt])
    mapping = format_mapping(source, "s0")
    table = f"lines_stored_{fmt}"
    load(client, table, source.name, corpus(fmt))
    sql, params = _inner(mapping, table), {**mapping.params, "mapped_source": source.name}
    names = ", ".join(f"`{name}`" for name, _ in types(client, sql, params))
    with staging(client) as area:
        mapped = stage_mapped(client, area, "mapped", sql, params, mapping.aliases)
        columns = "SELECT name, default_kind FROM system.columns WHERE table = {t:String}"
        declared = dict(client.query(columns, parameters={"t": mapped}).result_rows)
        stored = client.query(f"SELECT {names} FROM `{mapped}` ORDER BY row, sub").result_rows
    assert {name for name, kind in declared.items() if kind == "ALIAS"} == set(mapping.aliases)
    assert stored == rows(client, sql, params) and stored


def test_a_renamed_column_is_followed_to_the_column_it_renames():
    ce = format_mapping(next(s for s in load_catalog().sources if s.format == "cloudevents"), "s0")
    assert ce.aliases["id"] == "f_id" and ce.aliases["tenant_id"] == "f_subject"  # tenant_id -> subject -> f_subject
    assert not set(ce.aliases.values()) & set(ce.aliases)


def test_the_corpus_reaches_every_kind(client, monkeypatch):
    """The comparison above means something: the old kinds it matched include every JSON type."""
    source = load_catalog().sources[0]
    load(client, "lines_kinds", source.name, corpus("cloudevents"))
    old, _ = old_and_new(monkeypatch, source)
    sql = _inner(old, "lines_kinds")
    params = {**old.params, "mapped_source": source.name}
    kinds = {k for (k,) in client.query(f"SELECT DISTINCT id_kind FROM ({sql})", parameters=params).result_rows}
    assert kinds >= {None, "String", "Object", "Array", "Bool", "Int64", "UInt64", "Double"}


NESTED_DOCS = [{"a": {"b": {"c": Raw(v)}, "s": Raw(v)}, "t": Raw(v)} for v in VALUES]
NESTED_DOCS += [{"a": Raw(v)} for v in VALUES] + [{"a": {"b": Raw(v)}} for v in VALUES]
NESTED_DOCS += [[("a", {"b": [("c", Raw(x)), ("c", Raw(y))]}), ("a", {"b": {"c": 1}})] for x, y in DUPLICATES]
NESTED_DOCS += [{"x-y": {":authority": {"it's": Raw(v)}}, "": {"": Raw(v)}} for v in VALUES]
NESTED_PATHS = [
    ("a",),
    ("t",),
    ("a", "s"),
    ("a", "b"),
    ("a", "b", "c"),
    ("a", "x"),
    ("a", "b", "x"),
    ("x", "y", "z"),
    ("x-y", ":authority", "it's"),
    ("", ""),
    ("a", "b", "c", "d"),
]


def test_every_read_matches_its_json_function_on_nested_paths(client):
    """Each ParsedLine read against the JSON function it replaces, on paths one to four levels deep."""
    load(client, "lines_nested", "n", [render(doc).encode() for doc in NESTED_DOCS])
    new, old, select, params = ParsedLine(), PerCallLine(), [], {}
    amounts = "arrayMap(p -> (p.1, if(match(p.2, '^-?[0-9]{{1,19}}$'), toInt64OrNull(p.2), NULL)), {})"  # billing_client
    for i, keys in enumerate(NESTED_PATHS):
        args = tuple(f"{{p{i}_{k}:String}}" for k in range(len(keys)))
        params.update({f"p{i}_{k}": key for k, key in enumerate(keys)})
        for read in ("raw", "kind", "string", "text"):
            select.append((f"{read} {keys}", getattr(old, read)(keys, args), getattr(new, read)(keys, args)))
        select.append((f"object {keys}", old.object(keys, args, "'{}'"), new.object(keys, args, "'{}'")))
        select.append((f"amounts {keys}", amounts.format(old.members(keys, args)), amounts.format(new.members(keys, args))))
    line_columns = "".join(f", {expr} AS `{name}`" for name, expr in new.columns.items())
    columns = ", ".join(f"{o} AS o{i}, {n} AS n{i}" for i, (_, o, n) in enumerate(select))
    sql = f"SELECT row, {columns} FROM (SELECT row, raw{line_columns} FROM lines_nested) ORDER BY row"
    result = client.query(sql, parameters=params, settings=SETTINGS)
    assert [t.name for t in result.column_types[1::2]] == [t.name for t in result.column_types[2::2]]
    for row in result.result_rows:
        for i, (what, _, _) in enumerate(select):
            assert row[1 + 2 * i] == row[2 + 2 * i], (what, row[0], NESTED_DOCS[row[0] - 1])


def test_a_second_parse_changes_negative_zero_and_big_integral_doubles(client):
    """Why nested reads fall back to the line for `0` and quoted integers, and why amounts may be parsed twice."""
    doc = '{"a":{"neg_zero":-0.0,"big":1e20,"neg_big":-1e20,"fine":1e21,"int":1.0}}'
    got = dict(client.query(f"SELECT JSONExtractKeysAndValuesRaw(JSONExtractRaw('{doc}', 'a'))").result_rows[0][0])
    once = dict(client.query(f"SELECT JSONExtractKeysAndValuesRaw('{doc}', 'a')").result_rows[0][0])
    assert once == {"neg_zero": "-0", "big": "100000000000000000000", "neg_big": "-100000000000000000000", "fine": "1e21", "int": "1"}
    assert got == {"neg_zero": "0", "big": '"100000000000000000000"', "neg_big": '"-100000000000000000000"', "fine": "1e21", "int": "1"}
