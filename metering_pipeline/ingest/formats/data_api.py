"""Data API BillingEvent lines from its `billing.events` logger: one usage amount a line.

id (a UUID) is the dedup key: the three lines of one model call share a timestamp and
differ in id. The timestamp is UTC `Z` with 0, 3, 6 or 9 fraction digits, truncated to
microseconds. The event type is `event_type`; the older `{internal|external}_model_{metric}`
names are mapped onto today's `{internal|external}_{embedding|reranking}_{metric}` by the
catalog's `event_types` templates (using `model_type`), not here. The attribution key is
`properties.resource_id`, the database the usage belongs to.
"""

from metering_pipeline.catalog import Source
from metering_pipeline.ingest.formats.fields import Fields
from metering_pipeline.ingest.formats.mapping import Mapping, json_integer, json_object, json_string
from metering_pipeline.validate.rules import Rule, matches, not_null

TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6}|\.\d{9})?Z$"
DIMENSIONS = ("product", "region", "provider", "model", "model_type", "resource_type", "resource_id")


def _rules() -> list[Rule]:
    rules = [not_null("missing_field", f"f_{role}", f"{role} is missing")
             for role in ("id", "timestamp", "event_type", "usage", "resource_id")]
    rules.append(matches("invalid_time", "f_timestamp", TIMESTAMP, "timestamp is not UTC with 0, 3, 6 or 9 fraction digits"))
    rules.append(matches("invalid_value", "f_usage", r"^-?[0-9]{1,18}$", "usage is not an integer"))
    return rules


def mapping(source: Source, prefix: str) -> Mapping:
    fields = Fields(source, prefix)
    cols = fields.role_columns()
    cols["type"] = fields.event_type("f_event_type")
    cols["source"] = fields.bind("source", source.name)
    cols["id"] = "f_id"
    cols["time"] = "parseDateTime64BestEffortOrNull(f_timestamp, 6, 'UTC')"
    cols["attr_kind"] = fields.bind("kind", source.attribution_kind)
    cols["attr_key"] = "f_resource_id"
    members = {"event_type": json_string("f_event_type"), "usage": json_integer("f_usage")}
    members.update({role: json_string(f"f_{role}") for role in DIMENSIONS})
    cols["data"] = json_object(members)
    return Mapping(cols, fields.params, _rules(), attributed=True, line=fields.line.columns, line_ok=fields.line.ok)
