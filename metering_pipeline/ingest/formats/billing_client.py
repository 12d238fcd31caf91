"""The billing-client Event: one line carries several amounts, and each amount is one canonical event.

`amounts` maps amount type -> int64; the line explodes (ARRAY JOIN) into one event per
amount type, with id = unique_key + "/" + amount type, so a resent event is deduplicated
per amount type. The time is `occurred_at` (older clients wrote `timestamp`: the catalog
lists both paths), RFC 3339 in any offset, truncated to microseconds. The attribution key
is `internal_instance_id`, a numeric id written as a string.
"""

from metering_pipeline.catalog import Source
from metering_pipeline.ingest.formats.fields import Fields
from metering_pipeline.ingest.formats.mapping import Mapping, json_integer, json_object, json_string
from metering_pipeline.validate.rules import RFC3339, Rule, matches, not_null

INT64 = r"^-?[0-9]{1,19}$"


def _rules() -> list[Rule]:
    return [
        not_null("missing_field", "f_unique_key", "unique_key is missing"),
        not_null("missing_field", "f_instance_id", "internal_instance_id is missing"),
        not_null("missing_field", "f_occurred_at", "occurred_at (or timestamp) is missing"),
        not_null("missing_field", "amounts_kind", "amounts is missing"),
        Rule("invalid_field", "ExpectColumnValuesToBeInSet", "amounts_kind", "amounts must be an object", {"value_set": ["Object"]}),
        not_null("invalid_field", "amount_type", "amounts is empty"),
        Rule("invalid_field", "ExpectColumnValuesToBeInSet", "metadata_kind", "metadata must be a string map or null",
             {"value_set": ["Object"]}),
        matches("invalid_field", "f_instance_id", r"^[0-9]+$", "internal_instance_id is not a numeric id"),
        matches("invalid_time", "f_occurred_at", RFC3339, "occurred_at is not RFC 3339"),
        not_null("invalid_value", "amount", "an amount is not an int64 integer"),
    ]


def mapping(source: Source, prefix: str) -> Mapping:
    fields = Fields(source, prefix)
    explode = fields.members("amounts")  # parsed from the amounts' text: see ParsedLine.members
    cols = fields.role_columns()
    cols["amounts_kind"] = fields.kind("amounts")
    cols["metadata_kind"] = fields.kind("metadata")
    cols["amount_type"] = "if(item_sub = 0, NULL, item.1)"
    cols["amount"] = f"if(match(item.2, '{INT64}'), toInt64OrNull(item.2), NULL)"
    cols["type"] = fields.event_type("ifNull(amount_type, '')")
    cols["source"] = fields.bind("source", source.name)
    cols["id"] = "concat(f_unique_key, '/', ifNull(amount_type, ''))"
    cols["time"] = "parseDateTime64BestEffortOrNull(f_occurred_at, 6, 'UTC')"
    cols["attr_kind"] = fields.bind("kind", source.attribution_kind)
    cols["attr_key"] = "f_instance_id"
    cols["data"] = json_object({
        "amount_type": json_string("amount_type"),
        "amount": json_integer("toString(amount)"),
        "unique_key": json_string("f_unique_key"),
        "instance_id": json_string("f_instance_id"),
        "metadata": "if(metadata_kind = 'Object', f_metadata, 'null')",
    })
    return Mapping(cols, fields.params, _rules(), attributed=True, explode=explode,
                   line=fields.line.columns, line_ok=fields.line.ok)
