"""CloudEvents 1.0 JSON format: one structured event a line, or a JSON batch of them; `subject` is the tenant.

A line is one event (`application/cloudevents+json`) or, when it is a JSON array, a batch
(`application/cloudevents-batch+json`, CloudEvents json-format.md section 4: an array of events
in the JSON event format), which OpenMeter's `/api/v1/events` accepts too. Each element is
one record (`Mapping.records`); a batch is accepted only whole: an element that is not an
object makes the whole line one non-object record, so the line is quarantined
`malformed_json` rather than losing that element silently, and an empty batch leaves no
record, so it is quarantined `malformed_json` as well (the line is accounted once either way).

The roles `id`, `source`, `type`, `subject` and `time` default to the attribute of their name;
a source's catalog `fields` may map any of them elsewhere, or to a list tried in order, so a
producer that names its tenant in the data maps `subject: [$.subject, $.data.customerId]`.
The first path holding a value wins, and a value is absent when it is absent, null or blank
(empty or only whitespace): a blank `subject` falls through to the next path, and a role with
no value left is `missing_field`. Blank is absent because a dedup key or tenant of spaces would
otherwise be a key that unrelated events share. A value of a JSON type the spec never gives the
attribute (an `id` of 42) is `invalid_field`, not `missing_field`: it holds a value, of the wrong
type. `specversion` and `data` are fixed by the spec. The catalog's `event_types` applies to the
type read.

A batch element is read from its text as `JSONExtractArrayRaw` writes it, a re-serialization:
numbers keep the exactness the README states for JSON numbers (strings are exact), with the
artefacts formats/parsed.py lists (`-0.0` is `0`). Only lines starting with `[` go through the
records ARRAY JOIN (`records_when`): sending every line through it cost 0.39 -> 0.56 s of
mapping on 400k single-event lines.
"""

from dataclasses import replace

from metering_pipeline.catalog import Source
from metering_pipeline.ingest.formats.fields import BLANK, NULL_TEXT, Fields, role_paths
from metering_pipeline.ingest.formats.mapping import Mapping
from metering_pipeline.validate.rules import MAX_ID_LENGTH, RFC3339, Rule, matches, not_null

ROLES = ("id", "source", "type", "subject", "time")
REQUIRED = ("specversion", *ROLES)
# A line starting with `[` is a batch: its elements, if each is an object (an element's raw text
# starts with `{` exactly when it is one), else the line itself, which then fails as not an
# object. Invalid JSON gives no element. Other lines are their own record, told apart by a regex
# on their first bytes rather than by parsing every line once more.
BATCH = r"match(line, '^\\s*\\[')"
RECORDS = "if(arrayAll(e -> startsWith(e, '{'), JSONExtractArrayRaw(line)), JSONExtractArrayRaw(line), [line])"
# mapping.JSON_OBJECT_DETAIL, telling an empty batch and a batch element that is not an object apart.
PARSE_DETAIL = (
    "multiIf(NOT isValidUTF8(raw), 'line is not valid UTF-8', NOT isValidJSON(raw), 'line is not valid JSON', "
    "JSONType(raw) = 'Array' AND JSONLength(raw) = 0, 'empty CloudEvents batch', "
    "JSONType(raw) = 'Array', 'CloudEvents batch element is not an object', 'JSON value is not an object')"
)


def _rules() -> list[Rule]:
    rules = [not_null("missing_field", f"{f}_kind", f"required field '{f}' is missing, null or blank") for f in REQUIRED]
    rules += [
        Rule("invalid_field", "ExpectColumnValuesToBeInSet", f"{f}_kind", f"field '{f}' must be a string", {"value_set": ["String"]})
        for f in REQUIRED
    ]
    rules.append(Rule("invalid_field", "ExpectColumnValuesToBeInSet", "specversion", "specversion must be '1.0'", {"value_set": ["1.0"]}))
    rules += [
        Rule(
            "invalid_field",
            "ExpectColumnValueLengthsToBeBetween",
            f,
            f"field '{f}' must be 1 to {MAX_ID_LENGTH} characters",
            {"min_value": 1, "max_value": MAX_ID_LENGTH},
        )
        for f in ("source", "ce_type", "subject")
    ]
    rules.append(
        Rule("invalid_field", "ExpectColumnValuesToBeInSet", "data_kind", "field 'data' must be an object", {"value_set": ["Object"]})
    )
    rules.append(matches("invalid_time", "time_text", RFC3339, "time is not RFC 3339"))
    return rules


def _present(kind: str, text: str) -> str:
    """The path holds a value: present, not null, and not a blank string."""
    return f"({kind} IS NOT NULL AND NOT ({kind} = 'String' AND match(ifNull({text}, ''), {BLANK})))"


def mapping(source: Source, prefix: str) -> Mapping:
    # Unmapped roles read the attribute of their name: a code constant, so the default SQL binds nothing.
    mapped = {role: source.fields[role] for role in ROLES if role in source.fields}
    fields = Fields(replace(source, fields=mapped), prefix)
    line = fields.line

    def paths(role: str) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
        if role not in mapped:
            return [((role,), (f"'{role}'",))]
        return fields.paths(role)

    cols = {"specversion_kind": line.kind(("specversion",), ("'specversion'",))}
    for role in ROLES:
        # Per path: its kind and its text; the role is the first path holding a value (see _present). The
        # text of a value of the wrong type is kept (`7`), so the verdict is the type, not "missing".
        chosen = []
        for keys, args in paths(role):
            kind, text = line.kind(keys, args), line.text(keys, args)
            chosen.append((_present(kind, text), kind, text))
        cols[f"{role}_kind"] = f"multiIf({', '.join(f'{p}, {k}' for p, k, _ in chosen)}, {NULL_TEXT})"
        cols[f"f_{role}"] = f"multiIf({', '.join(f'{p}, {t}' for p, _, t in chosen)}, {NULL_TEXT})"
    cols.update(
        specversion=line.string(("specversion",), ("'specversion'",)),
        id="f_id",
        source="f_source",
        ce_type="f_type",
        subject="f_subject",
        time_text="f_time",
    )
    cols["type"] = fields.event_type("ce_type")
    cols["time"] = "parseDateTime64BestEffortOrNull(time_text, 6, 'UTC')"
    cols["tenant_id"] = "subject"
    cols["data"] = line.object(("data",), ("'data'",), "'{}'")
    cols["data_kind"] = line.kind(("data",), ("'data'",))
    return Mapping(
        cols,
        fields.params,
        _rules(),
        attributed=False,
        line=line.columns,
        line_ok=line.ok,
        records=RECORDS,
        records_when=BATCH,
        parse_detail=PARSE_DETAIL,
    )


def locate(source: Source, keys: tuple[str, ...], event: dict) -> dict:
    """Where verify.py finds the event's id and a meter's value in the raw line: the record (the line,
    or the batch element) whose id role holds the event's id; the value at `data` + the meter's keys."""
    ident = {"paths": role_paths(source, "id", (("id",),))}
    return {"record": "batch", "id": ident, "value": {"paths": [["data", *keys]]} if keys else None}
