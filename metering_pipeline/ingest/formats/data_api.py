"""Data API BillingEvent lines from its `billing.events` logger: one usage amount a line.

The producer is stargate/data-api (`BillingEvent`, `DefaultBilling`): Jackson writes `id` (a
random UUID), `timestamp` (`Instant.toString()`), `product`, `event_type` and `properties`
(`usage`, a Java long; `region`, `resource_type`, `resource_id`, `provider`, `model`, all
strings; null members are left out). id is the dedup key: the three lines of one model call
share a timestamp and differ in id. The timestamp is UTC `Z` with 0, 3, 6 or 9 fraction
digits, truncated to microseconds. The attribution key is `properties.resource_id`, the
database (tenant id) the usage belongs to.

The event type is `event_type`. Today's release writes `{internal|external}_model_{metric}`
and no `model_type`; an earlier generation of these lines added `properties.model_type`
(embedding or reranking), which the catalog's `event_types` template list folds into the
type when it is there (`{internal|external}_{model_type}_{metric}`), not here.

Types follow the producer's: a member it writes as a string must be a JSON string, and
`usage` a JSON integer, else `invalid_field` (a usage sent as "12" is not what Java's long
serializes to, and reading it anyway would hide a broken producer); an integer that is no
int64 (a fraction, 1e3, beyond 2^63 - 1) is `invalid_value`, as is a negative one for a sum.
Absent, null or blank is `missing_field` (Fields.text). ClickHouse reads a bare integer beyond
2^64 as a string, so such a usage is `invalid_field`: the JSON functions cannot tell the two apart.

`data` is the derived members (flat: `usage`, `event_type` and the dimensions read out of
`properties`), then every other top-level member as written (`properties` nested), so a meter
can read a property this adapter does not derive.
"""

from metering_pipeline.catalog import Source
from metering_pipeline.catalog.formats import FORMAT_SPECS
from metering_pipeline.ingest.formats.fields import Fields, role_paths
from metering_pipeline.ingest.formats.mapping import Mapping, json_string, record_json
from metering_pipeline.validate.rules import Rule, matches, not_null

TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6}|\.\d{9})?Z$"
DIMENSIONS = ("product", "region", "provider", "model", "model_type", "resource_type", "resource_id")
REQUIRED = ("id", "timestamp", "event_type", "usage", "resource_id")
NUMBER_KINDS = ["Int64", "UInt64", "Double"]  # a JSON number; which one the text does not say
INTEGER_KINDS = ("Int64", "UInt64")  # a Java long; UInt64 only beyond 2^63 - 1, refused below


def _string_roles(source: Source) -> list[str]:
    """The mapped roles the producer writes as JSON strings: every role but usage."""
    return [role for role in FORMAT_SPECS[source.format].roles if role != "usage" and role in source.fields]


def _rules(source: Source) -> list[Rule]:
    rules = [not_null("missing_field", f"f_{role}", f"{role} is missing or blank") for role in REQUIRED]
    rules += [
        Rule("invalid_field", "ExpectColumnValuesToBeInSet", f"{role}_kind", f"{role} must be a JSON string", {"value_set": ["String"]})
        for role in _string_roles(source)
    ]
    rules.append(
        Rule("invalid_field", "ExpectColumnValuesToBeInSet", "usage_kind", "usage must be a JSON number", {"value_set": NUMBER_KINDS})
    )
    rules.append(matches("invalid_time", "f_timestamp", TIMESTAMP, "timestamp is not UTC with 0, 3, 6 or 9 fraction digits"))
    rules.append(not_null("invalid_value", "usage", "usage is not an int64 integer"))
    return rules


def mapping(source: Source, prefix: str) -> Mapping:
    fields = Fields(source, prefix)
    cols = fields.role_columns()
    for role in (*_string_roles(source), "usage"):
        cols[f"{role}_kind"] = fields.kind(role)
    # The kind, not the text: a nested number's text is re-serialized (12.0 reads "12").
    cols["usage"] = f"if(usage_kind IN {INTEGER_KINDS!r}, toInt64OrNull(f_usage), NULL)"
    cols["type"] = fields.event_type("f_event_type")
    cols["source"] = fields.bind("source", source.name)
    cols["id"] = "f_id"
    cols["time"] = "parseDateTime64BestEffortOrNull(f_timestamp, 6, 'UTC')"
    cols["attr_kind"] = fields.bind("kind", source.attribution_kind)
    cols["attr_key"] = "f_resource_id"
    members = {"event_type": json_string("f_event_type"), "usage": "ifNull(toString(usage), 'null')"}  # see locate
    members.update({role: json_string(f"f_{role}") for role in DIMENSIONS})
    cols["data"] = record_json(members, fields.line.record)
    return Mapping(cols, fields.params, _rules(source), attributed=True, line=fields.line.columns, line_ok=fields.line.ok)


def locate(source: Source, keys: tuple[str, ...], event: dict) -> dict:
    """Where verify.py finds the event's id and a meter's value (`keys` into `data`) in the raw line:
    a derived member (`usage`, `event_type`, a dimension) is its role's path, anything else the
    record's own member."""
    derived = ("event_type", "usage", *DIMENSIONS)  # the members `mapping` derives, each from its role
    if not keys:
        value = None
    elif len(keys) == 1 and keys[0] in derived:
        value = {"paths": role_paths(source, keys[0])}
    else:
        value = {"paths": [list(keys)]}
    return {"record": "line", "id": {"paths": role_paths(source, "id")}, "value": value}
