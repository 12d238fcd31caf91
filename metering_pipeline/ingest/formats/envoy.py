"""Envoy Gateway's default JSON access log: one HTTP request or one closed TCP connection a line.

Both generations parse: before 1.2.7 / 1.3.1 every value is a string with "-" for unset;
later gateways write typed JSON with null. "-", null and a missing key all mean unset, so
unset bytes and durations count as 0. A line is TCP when `protocol` is unset (never judged
by `response_code`, which is 0 for TCP and for HTTP requests the client abandoned alike).

- HTTP lines: id = x-request-id; bytes are body bytes.
- TCP lines carry no id: id = "line-sha256:" + SHA-256 of the line's bytes, so a line
  shipped twice is one event. time = start_time, so a connection bills at its start.
- Attribution key: kind, namespace and name from `route_name`, else `upstream_cluster`
  (`httproute/<ns>/<name>/...`, `tcproute/<ns>/<name>/...`); a line with neither (NR,
  route_not_found) is quarantined as unattributed.
"""

from metering_pipeline.catalog import Source
from metering_pipeline.ingest.formats.fields import Fields
from metering_pipeline.ingest.formats.mapping import Mapping, json_integer, json_object, json_string
from metering_pipeline.validate.rules import RFC3339, matches, not_null

COUNT = r"^[0-9]{1,18}$"
ROUTE = "'^([a-z]+)/([^/]+/[^/]+)(/|$)'"


def _rules() -> list:
    return [
        not_null("missing_field", "f_start_time", "start_time is unset"),
        not_null("missing_field", "id", "x-request-id is unset on an HTTP line"),
        matches("invalid_time", "f_start_time", RFC3339, "start_time is not RFC 3339"),
        matches("invalid_field", "f_response_code", r"^[0-9]{1,3}$", "response_code is not an HTTP status"),
        *(matches("invalid_value", f"f_{role}", COUNT, f"{role} is not a non-negative integer")
          for role in ("bytes_sent", "bytes_received", "duration")),
        not_null("unattributed", "attr_key", "no route: route_name and upstream_cluster are unset (NR, route_not_found)"),
    ]


def mapping(source: Source, prefix: str) -> Mapping:
    fields = Fields(source, prefix, unset=("-",))
    cols = fields.role_columns()
    cols["raw_type"] = "if(f_protocol IS NULL, 'tcp', 'http')"
    cols["type"] = fields.event_type("raw_type")
    cols["source"] = fields.bind("source", source.name)
    cols["id"] = "if(raw_type = 'http', f_request_id, concat('line-sha256:', lower(hex(SHA256(raw)))))"
    cols["time"] = "parseDateTime64BestEffortOrNull(f_start_time, 6, 'UTC')"
    cols["route"] = "coalesce(f_route_name, f_upstream_cluster)"
    cols["attr_kind"] = f"nullIf(extract(ifNull(route, ''), {ROUTE}), '')"
    cols["attr_key"] = f"nullIf(regexpExtract(ifNull(route, ''), {ROUTE}, 2), '')"
    counts = {role: f"coalesce(f_{role}, '0')" for role in ("bytes_sent", "bytes_received", "duration")}
    seconds = f"if(match({counts['duration']}, '{COUNT}'), toString(toDecimal128({counts['duration']}, 3) / 1000), 'null')"
    cols["data"] = json_object({
        "protocol": json_string("f_protocol"),
        "method": json_string("f_method"),
        "authority": json_string("f_authority"),
        "route": json_string("if(attr_key IS NULL, NULL, concat(attr_kind, '/', attr_key))"),
        "response_code": json_integer("f_response_code"),
        "response_flags": json_string("f_response_flags"),
        "bytes_sent": json_integer(counts["bytes_sent"]),
        "bytes_received": json_integer(counts["bytes_received"]),
        "duration_ms": json_integer(counts["duration"]),
        "duration_seconds": seconds,
    })
    return Mapping(cols, fields.params, _rules(), attributed=True, line=fields.line.columns, line_ok=fields.line.ok)
