"""CloudEvents 1.0 structured mode: one JSON object a line, `subject` is the tenant.

The attribute names are fixed by the CloudEvents spec, so this adapter needs no catalog
field mapping; the catalog's `event_types` still applies to `type`.
"""

from metering_pipeline.catalog import Source
from metering_pipeline.ingest.formats.fields import Fields
from metering_pipeline.ingest.formats.mapping import Mapping
from metering_pipeline.validate.rules import MAX_ID_LENGTH, RFC3339, Rule, matches, not_null

REQUIRED = ("specversion", "id", "source", "type", "subject", "time")


def _rules() -> list[Rule]:
    rules = [not_null("missing_field", f"{f}_kind", f"required field '{f}' is missing or null") for f in REQUIRED]
    rules += [Rule("invalid_field", "ExpectColumnValuesToBeInSet", f"{f}_kind", f"field '{f}' must be a string",
                   {"value_set": ["String"]}) for f in REQUIRED]
    rules.append(Rule("invalid_field", "ExpectColumnValuesToBeInSet", "specversion", "specversion must be '1.0'", {"value_set": ["1.0"]}))
    rules += [Rule("invalid_field", "ExpectColumnValueLengthsToBeBetween", f, f"field '{f}' must be 1 to {MAX_ID_LENGTH} characters",
                   {"min_value": 1, "max_value": MAX_ID_LENGTH}) for f in ("source", "ce_type", "subject")]
    rules.append(Rule("invalid_field", "ExpectColumnValuesToBeInSet", "data_kind", "field 'data' must be an object", {"value_set": ["Object"]}))
    rules.append(matches("invalid_time", "time_text", RFC3339, "time is not RFC 3339"))
    return rules


def mapping(source: Source, prefix: str) -> Mapping:
    fields = Fields(source, prefix)
    line = fields.line

    def path(field: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return (field,), (f"'{field}'",)  # spec attribute names: code constants

    cols = {}
    for field in REQUIRED:
        cols[f"{field}_kind"] = line.kind(*path(field))
    cols.update(specversion=line.string(*path("specversion")), id=line.string(*path("id")),
                source=line.string(*path("source")), ce_type=line.string(*path("type")),
                subject=line.string(*path("subject")), time_text=line.string(*path("time")))
    cols["type"] = fields.event_type("ce_type")
    cols["time"] = "parseDateTime64BestEffortOrNull(time_text, 6, 'UTC')"
    cols["tenant_id"] = "subject"
    cols["data"] = line.object(*path("data"), "'{}'")
    cols["data_kind"] = line.kind(*path("data"))
    return Mapping(cols, fields.params, _rules(), attributed=False, line=line.columns, line_ok=line.ok)
