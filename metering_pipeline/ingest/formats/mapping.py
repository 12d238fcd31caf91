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

`records` lets one landing line hold several JSON records, or a record inside an envelope: an
Array(String) expression over `line` (the landing line) whose elements each become `raw` for
everything above. Empty: the line itself is the record.
"""

import re
from dataclasses import dataclass, field

from metering_pipeline.validate.rules import Rule

_NAME = re.compile(r"`?([A-Za-z_][A-Za-z0-9_]*)`?")
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
    records: str = ""  # Array(String) over `line`: the JSON records the landing line holds (see above)
    records_when: str = ""  # a cheap predicate over `line`: only lines where it holds go through `records`

    @property
    def aliases(self) -> dict[str, str]:
        """{column: the column it only renames}, followed through earlier renames (`tenant_id` is
        `subject` is `f_subject`: `f_subject`); ClickHouse resolves an ALIAS of an ALIAS as well.

        The mapped table stores each of those once and declares the others ALIAS columns: six of
        the CloudEvents mapping's 28 columns are such names (`id` is `f_id`), and writing them
        twice cost 0.8 s of the 1M hour's 3.2 s mapping insert.
        """
        found: dict[str, str] = {}
        for name, expr in self.columns.items():
            target = _NAME.fullmatch(expr.strip())
            if target and target.group(1) in self.columns and target.group(1) != name:
                found[name] = found.get(target.group(1), target.group(1))
        return found


def json_string(expr: str) -> str:
    return f"ifNull(toJSONString({expr}), 'null')"


def json_integer(expr: str) -> str:
    """The text as a JSON integer when it is one (up to 18 digits), else null."""
    return f"if(match(ifNull({expr}, ''), '^-?[0-9]{{1,18}}$'), {expr}, 'null')"


def json_object(members: dict[str, str], rest: str = "''") -> str:
    """A JSON object from JSON-encoded member expressions (the keys are code constants), then `rest`:
    further members' text, each with its leading comma."""
    body = ", ',', ".join(f"'\"{key}\":', {expr}" for key, expr in members.items())
    return f"concat('{{', {body}, {rest}, '}}')"


def record_json(derived: dict[str, str], members: str) -> str:
    """`data` for a format that derives fields: the derived members, then every other top-level
    member of the record as it was written, so a meter can read any field of the record
    (`$["gen_ai.usage.input_tokens"]`) and a derived name always means the derived value.

    `members` is the record's (key, JSON text) pairs (`ParsedLine.record`); a key the record
    repeats keeps its first occurrence only, as the JSON functions read it.
    """
    keys = "[" + ", ".join(f"'{key}'" for key in derived) + "]"
    rest = (
        f"arrayStringConcat(arrayMap(m -> concat(',', toJSONString(m.1), ':', m.2), "
        f"arrayFilter((m, i) -> NOT has({keys}, m.1) AND indexOf({members}.1, m.1) = i, "
        f"{members}, arrayEnumerate({members}))))"
    )
    return json_object(derived, rest)
