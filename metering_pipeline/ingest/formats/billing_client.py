"""billing-client usage (github.com/weaveworks/billing-client): Events and the records fluentd stores.

Two shapes, told apart line by line, in one source:

- the Event (`event.go`'s struct and JSON tags): `amounts` maps amount type -> int64; the line
  explodes (ARRAY JOIN) into one event per amount type;
- the record: what the library really sends. `Event.toRecords()` posts one record per non-zero
  amount to fluentd (tag `billing`): `unique_key` = `<key>:<amount type>`, `internal_instance_id`,
  `amount_type`, `amount_value` (int64), `occurred_at`, `metadata`. fluentd's `out_file` writes
  it as `<time>\\t<tag>\\t<JSON>` by default (`records` strips that prefix; the `json` formatter
  writes the JSON alone), and `out_s3` gzips the same lines by default.

The dedup id is the library's own `<key>:<amount type>` in both shapes (a record's `unique_key`
already is; an Event builds it), so a usage arriving as an Event and as records counts once.
It is built only from a non-blank key and a non-blank amount type: a blank one would give two
different usages the same id, and the second would be dropped as a duplicate, never billed. A
record whose `unique_key` is not `<non-blank key>:<its amount_type>` was not written by the
library, and is quarantined rather than given an id the Event shape could never match.

The time is `occurred_at` (Go's RFC 3339 with nanoseconds; the first 2017 client wrote
`timestamp`: the catalog lists both paths), truncated to microseconds. The attribution key
is `internal_instance_id`, a numeric id written as a string.

Every field is checked against the type the library writes for it: absent, null or blank is
`missing_field`; another JSON type (an amount given as a string, an id as a number) is
`invalid_field`; the right type but unusable (an amount of 1.5, or beyond int64) is
`invalid_value`. Checks of one amount are NULL on the row of a line that has none (an empty
`amounts`, or neither shape), which other rules quarantine, so each failure names its cause.
"""

import json

from metering_pipeline.catalog import Source
from metering_pipeline.ingest.formats.fields import BLANK, Fields, blank_to_null, role_paths
from metering_pipeline.ingest.formats.mapping import Mapping, json_integer, json_object, json_string
from metering_pipeline.validate.rules import RFC3339, Rule, matches, not_null

INT64 = r"^-?[0-9]{1,19}$"  # then toInt64OrNull: 19 digits beyond int64 are NULL
# fluentd out_file's `<time>\t<tag>\t` (or either alone, with output_time / output_tag off);
# a line that is plain JSON starts with `{` and is left as it is.
FLUENTD_PATTERN = '^([^\\t{"]*\\t){1,2}'  # RE2 and Python's re read it alike (verify.py strips it too)
FLUENTD_PREFIX = "'" + FLUENTD_PATTERN.replace("\\", "\\\\") + "'"  # as a SQL string literal
KINDS = ["String", "Number", "Object", "Array", "Bool"]  # every JSON type but null
QUOTED_INTEGER = r"""'^"-?[0-9]+"$'"""


def _in(reason: str, column: str, detail: str, values: list[str]) -> Rule:
    """Non-null values of `column` must be in `values`; NULL (the check does not apply) passes."""
    return Rule(reason, "ExpectColumnValuesToBeInSet", column, detail, {"value_set": values})


def _rules() -> list[Rule]:
    return [
        not_null("missing_field", "shape", "neither amounts (an Event) nor amount_type/amount_value (a record)"),
        not_null("missing_field", "key", "unique_key is missing or blank (a record's: its key before :<amount_type>)"),
        not_null("missing_field", "f_instance_id", "internal_instance_id is missing"),
        not_null("missing_field", "f_occurred_at", "occurred_at (or timestamp) is missing"),
        _in("missing_field", "amount_type_state", "an amount type is missing or blank", KINDS),
        _in("missing_field", "amount_state", "an amount is missing, null or blank", KINDS),
        _in("missing_field", "amounts_state", "amounts is empty: no amount at all", ["ok"]),
        _in("invalid_field", "shape", "a line holds both amounts and amount_type/amount_value", ["event", "record"]),
        _in("invalid_field", "unique_key_kind", "unique_key must be a string", ["String"]),
        _in("invalid_field", "instance_id_kind", "internal_instance_id must be a string", ["String"]),
        _in("invalid_field", "occurred_at_kind", "occurred_at must be a string", ["String"]),
        _in("invalid_field", "amounts_kind", "amounts must be an object", ["Object"]),
        _in("invalid_field", "amount_type_state", "amount_type must be a string", ["String"]),
        _in("invalid_field", "amount_state", "an amount must be a JSON number (int64 in the library)", ["Number"]),
        _in("invalid_field", "key_form", "a record's unique_key must be <key>:<amount_type>", ["ok"]),
        _in("invalid_field", "metadata_kind", "metadata must be a string map or null", ["Object"]),
        matches("invalid_field", "f_instance_id", r"^[0-9]+$", "internal_instance_id is not a numeric id"),
        matches("invalid_time", "f_occurred_at", RFC3339, "occurred_at is not RFC 3339"),
        not_null("invalid_value", "amount", "an amount is not an int64 integer"),
    ]


def _text_kind(text: str) -> str:
    """The JSON type of a member's text (ParsedLine.kind's names, numbers as 'Number'); NULL when absent, null or blank."""
    return (
        f"multiIf({text} IN ('', 'null'), NULL, startsWith({text}, '\"'), "
        f"if(match(JSONExtractString({text}), {BLANK}), NULL, 'String'), startsWith({text}, '{{'), 'Object', "
        f"startsWith({text}, '['), 'Array', {text} IN ('true', 'false'), 'Bool', 'Number')"
    )


def _from_line(fields: Fields, role: str) -> str:
    """The members of the object at the role's first path as the line wrote them.

    ParsedLine.members parses the object's own text, written once already, where an integral
    number beyond the 64-bit integers has become a quoted string; where a member's text is a
    quoted integer, the reads below ask the line instead (rare: real producers never write one).
    """
    _, args = fields.paths(role)[0]
    return f"JSONExtractKeysAndValuesRaw(raw, {', '.join(args)})"


def _number(kind: str) -> str:
    """ParsedLine.kind's number types as 'Number'."""
    return f"if({kind} IN ('Int64', 'UInt64', 'Double'), 'Number', {kind})"


def mapping(source: Source, prefix: str) -> Mapping:
    fields = Fields(source, prefix)
    explode = fields.members("amounts")  # parsed from the amounts' text: see ParsedLine.members
    cols = fields.role_columns()
    cols["unique_key_kind"] = fields.kind("unique_key")
    cols["instance_id_kind"] = fields.kind("instance_id")
    cols["occurred_at_kind"] = fields.kind("occurred_at")
    cols["amounts_kind"] = fields.kind("amounts")
    record_kind = f"coalesce({fields.kind('amount_type')}, {fields.kind('amount_value')})"
    cols["shape"] = (
        f"multiIf(amounts_kind IS NOT NULL AND {record_kind} IS NOT NULL, 'both', "
        f"amounts_kind IS NOT NULL, 'event', {record_kind} IS NOT NULL, 'record', NULL)"
    )
    cols["has_amount"] = "ifNull(shape, '') = 'record' OR (ifNull(shape, '') = 'event' AND item_sub > 0)"
    cols["amounts_state"] = "if(ifNull(shape, '') = 'event' AND ifNull(amounts_kind, '') = 'Object', if(item_sub = 0, 'empty', 'ok'), NULL)"
    # The amount type, NULL when blank: an Event's member name, a record's amount_type.
    cols["amount_type"] = f"multiIf(NOT has_amount, NULL, shape = 'event', {blank_to_null('item.1')}, f_amount_type)"
    record_type_kind = _number(fields.kind("amount_type"))
    cols["amount_type_state"] = (
        f"multiIf(NOT has_amount, NULL, amount_type IS NULL, 'missing', shape = 'event', 'String', {record_type_kind})"
    )
    record_amount_kind = _number(fields.kind("amount_value"))
    # A quoted integer is a string or a number beyond the 64-bit integers: the line tells (_from_line).
    from_line = f"{_from_line(fields, 'amounts')}[item_sub].2"
    event_kind = f"if(match(item.2, {QUOTED_INTEGER}), {_text_kind(from_line)}, {_text_kind('item.2')})"
    cols["amount_state"] = (
        f"multiIf(NOT has_amount, NULL, shape = 'event', ifNull({event_kind}, 'missing'), "
        f"{record_amount_kind} = 'String' AND f_amount_value IS NULL, 'missing', "
        f"ifNull({record_amount_kind}, 'missing'))"
    )
    amount_text = "if(shape = 'event', item.2, f_amount_value)"
    cols["amount"] = f"if(amount_state = 'Number' AND match({amount_text}, '{INT64}'), toInt64OrNull({amount_text}), NULL)"
    # The key: an Event's unique_key; a record's unique_key without its ":<amount_type>" (the
    # whole unique_key when it does not end so: key_form quarantines it).
    suffix = "concat(':', amount_type)"
    record_key = f"substring(f_unique_key, 1, length(f_unique_key) - length({suffix}))"
    cols["key_form"] = (
        f"if(shape = 'record' AND f_unique_key IS NOT NULL AND amount_type IS NOT NULL, "
        f"if(endsWith(f_unique_key, {suffix}), 'ok', 'other'), NULL)"
    )
    cols["key"] = f"if(ifNull(key_form, '') = 'ok', {blank_to_null(record_key)}, f_unique_key)"
    metadata_kind = fields.kind("metadata")
    if "metadata" in source.fields:  # map[string]string: an object whose values are all strings
        members = fields.members("metadata")  # a quoted integer there: the line tells (_from_line)
        all_strings = "arrayAll(m -> startsWith(m.2, '\"'), {})"
        strings = (
            f"if(arrayExists(m -> match(m.2, {QUOTED_INTEGER}), {members}), "
            f"{all_strings.format(_from_line(fields, 'metadata'))}, {all_strings.format(members)})"
        )
        metadata_kind = f"if({metadata_kind} = 'Object' AND NOT {strings}, 'Object of non-strings', {metadata_kind})"
    cols["metadata_kind"] = metadata_kind
    cols["type"] = fields.event_type("ifNull(amount_type, '')")
    cols["source"] = fields.bind("source", source.name)
    # Never from a blank key or amount type (both are NULL when blank, and concat of NULL is
    # NULL: missing_field). A line with no amount keeps its key as its id, for the rules that
    # quarantine it; an id of a real amount always holds ":<amount type>".
    cols["id"] = "multiIf(NOT has_amount, key, key IS NULL OR amount_type IS NULL, NULL, concat(key, ':', amount_type))"
    cols["time"] = "parseDateTime64BestEffortOrNull(f_occurred_at, 6, 'UTC')"
    cols["attr_kind"] = fields.bind("kind", source.attribution_kind)
    cols["attr_key"] = "f_instance_id"
    # The same data whichever shape carried the usage: unique_key is the Event's key.
    cols["data"] = json_object(
        {
            "amount_type": json_string("amount_type"),
            "amount": json_integer("toString(amount)"),
            "unique_key": json_string("key"),
            "instance_id": json_string("f_instance_id"),
            "metadata": "if(metadata_kind = 'Object', f_metadata, 'null')",
        }
    )
    return Mapping(
        cols,
        fields.params,
        _rules(),
        attributed=True,
        explode=explode,
        line=fields.line.columns,
        line_ok=fields.line.ok,
        records=f"[replaceRegexpOne(line, {FLUENTD_PREFIX}, '')]",
        records_when=f"match(line, {FLUENTD_PREFIX})",
    )


def locate(source: Source, keys: tuple[str, ...], event: dict) -> dict:
    """Where verify.py finds the event's id and a meter's value in the raw line (fluentd's prefix
    stripped): an Event's amount is `amounts`' member named by the amount type, a record's is
    `amount_value` (a line with both is quarantined, so the first present is the one); the id is
    the line's unique_key, followed by ":<amount type>" for an Event."""
    data = json.loads(event["data"])
    amount_type = data.get("amount_type") or ""
    ident = {"paths": role_paths(source, "unique_key"), "suffixes": ["", f":{amount_type}"]}
    if not keys:
        value = None
    elif list(keys) == ["amount"]:
        events = [[*path, amount_type] for path in role_paths(source, "amounts")[:1]]  # _from_line: the first path
        value = {"paths": events + role_paths(source, "amount_value")}
    elif list(keys) == ["instance_id"]:
        value = {"paths": role_paths(source, "instance_id")}
    else:
        value = {"mapped": f"data member {keys[0]!r} is derived by the pipeline, not a field of the line"}
    return {"record": "fluentd", "prefix": FLUENTD_PATTERN, "id": ident, "value": value}
