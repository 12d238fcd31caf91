"""The contract between a format adapter and ingest: SQL over one raw line for each canonical column.

An adapter maps a line (`raw`, plus `item` when one line holds several events) onto the
canonical columns `source`, `id`, `type`, `time`, `data`, and either `tenant_id` (the
record names its tenant) or `attr_kind`/`attr_key` (the attribution table decides), plus
the columns its own GX rules check. Catalog values (JSON keys, names, types) are bound
parameters; only code constants are ever part of the SQL text.

`line` holds the columns computed once per line, before any explode (the parsed line,
formats/parsed.py), which `explode` and `columns` may use; `line_ok` selects the lines to map:
valid UTF-8 holding one JSON object (JSON_OBJECT), which it may read off `line`. A line it
leaves out is quarantined as malformed with `parse_detail`, which sees only `raw`: the
quarantine finds those lines by their absence from the mapped rows.
"""

from dataclasses import dataclass, field

from metering_pipeline.validate.rules import Rule

JSON_OBJECT = "isValidUTF8(raw) AND isValidJSON(raw) AND JSONType(raw) = 'Object'"
JSON_OBJECT_DETAIL = (
    "multiIf(NOT isValidUTF8(raw), 'line is not valid UTF-8', NOT isValidJSON(raw), "
    "'line is not valid JSON', 'JSON value is not an object')"
)


@dataclass
class Mapping:
    columns: dict[str, str]  # evaluated in order; later expressions may use earlier names
    params: dict
    rules: list[Rule]
    attributed: bool
    explode: str = ""  # an Array expression over the line (`raw`, `line`): one event per element, named `item`
    parse_detail: str = JSON_OBJECT_DETAIL
    line: dict[str, str] = field(default_factory=dict)  # per-line columns, evaluated in order
    line_ok: str = JSON_OBJECT  # the lines to map (see above); may use `line`


def json_string(expr: str) -> str:
    return f"ifNull(toJSONString({expr}), 'null')"


def json_integer(expr: str) -> str:
    """The text as a JSON integer when it is one (up to 18 digits), else null."""
    return f"if(match(ifNull({expr}, ''), '^-?[0-9]{{1,18}}$'), {expr}, 'null')"


def json_object(members: dict[str, str]) -> str:
    """A JSON object from JSON-encoded member expressions; the keys are code constants."""
    body = ", ',', ".join(f"'\"{key}\":', {expr}" for key, expr in members.items())
    return f"concat('{{', {body}, '}}')"
