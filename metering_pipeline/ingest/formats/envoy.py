"""Envoy access logs (Envoy Gateway, the Envoy AI Gateway, Istio): one HTTP request or one closed TCP connection a line.

Both Envoy Gateway generations parse: before 1.2.7 / 1.3.1 every value is a string with "-"
for unset; later gateways write typed JSON with null. "-", null and a missing key all mean
unset, so unset bytes and durations count as 0.

HTTP or TCP is decided from every signal the line carries, because no single key is always
there: the AI Gateway's documented formats have no `protocol` key at all, and `response_code`
0 is both a TCP connection and an HTTP request the client abandoned.

- HTTP signals: `protocol` set, a `method`, an `x-request-id`, a non-zero `response_code`, a
  route kind (from `route_name` / `upstream_cluster`) httproute or grpcroute.
- TCP signals: `protocol` written but unset (Envoy writes it for every HTTP stream, so a
  format that logs it and has none is a TCP proxy line), a route kind tcproute, tlsroute or
  udproute.
- Only HTTP signals: HTTP. Only TCP signals: TCP. Both: quarantined `invalid_field`, never
  billed as either, since billing an HTTP line as TCP (or the reverse) is a wrong invoice.
  Neither (no protocol key, no method, id, status or route kind): quarantined
  `missing_field` rather than guessed.

- HTTP lines: id = x-request-id; bytes are body bytes.
- TCP lines carry no id: id = "line-sha256:" + SHA-256 of the line's bytes, so a line
  shipped twice is one event. time = start_time, so a connection bills at its start.
- Attribution key: the source's `attribution_key` (catalog/sources.py), by default Envoy
  Gateway's `<kind>/<namespace>/<name>/...` in `route_name`, else `upstream_cluster`; a
  line whose roles match no pattern (NR, route_not_found, an Istio `inbound|...` cluster) is
  quarantined as unattributed, the detail naming what it looked at.
- `data`: the derived members (protocol, route, bytes, durations, ...), then every other
  member of the record as written, so a meter can read any field of the log
  (`$["gen_ai.usage.input_tokens"]`); a member written "-" is null there, as everywhere in
  this format.
"""

from metering_pipeline.catalog import Source
from metering_pipeline.ingest.formats.fields import Fields, role_paths
from metering_pipeline.ingest.formats.mapping import Mapping, json_integer, json_string, record_json
from metering_pipeline.validate.rules import RFC3339, Rule, matches, not_null

COUNT = r"^[0-9]{1,18}$"
# `data` members derived from one role each (the rest of `data` is the record's own members):
# the mapping builds them from these, and an evidence bundle's verify script reads the same
# roles in the raw line (`locate`). Counts read unset as 0; duration_seconds is duration / 1000.
STRING_MEMBERS = {"protocol": "protocol", "method": "method", "authority": "authority", "response_flags": "response_flags"}
INTEGER_MEMBERS = {"response_code": "response_code"}
COUNT_MEMBERS = {"bytes_sent": "bytes_sent", "bytes_received": "bytes_received", "duration_ms": "duration"}
SECONDS_OF, SECONDS_DIVISOR = "duration_ms", 1000
UNSET = ("-",)  # Envoy's first generation writes "-" for unset
TCP_ID_PREFIX = "line-sha256:"  # a TCP line's id: this + the SHA-256 of the line
# Route kinds by Envoy Gateway's naming, a signal of HTTP or TCP whatever the source's attribution key.
ROUTE_KIND = "'^(httproute|grpcroute|tcproute|tlsroute|udproute)/'"
HTTP_KINDS, TCP_KINDS = "('httproute', 'grpcroute')", "('tcproute', 'tlsroute', 'udproute')"


def unset_members(record: str) -> str:
    """The record's members with Envoy's "-" (unset) written as null, as every field of this format reads it."""
    return f"arrayMap(m -> (m.1, if(m.2 = '\"-\"', 'null', m.2)), {record})"


# The JSON types Envoy writes: strings for these roles in both generations; counts as strings
# (first generation) or numbers (typed). Anything else was not written by Envoy: invalid_field.
STRING_ROLES = ("start_time", "protocol", "method", "request_id", "authority", "route_name", "upstream_cluster", "response_flags")
COUNT_ROLES = ("bytes_sent", "bytes_received", "duration", "response_code")
COUNT_KINDS = ["String", "Int64", "UInt64", "Double"]


def _type_rules(source: Source) -> list:
    mapped = [role for role in (*STRING_ROLES, *COUNT_ROLES) if role in source.fields]
    return [
        Rule(
            "invalid_field",
            "ExpectColumnValuesToBeInSet",
            f"{role}_kind",
            f"{role} must be a JSON {'string' if role in STRING_ROLES else 'number or numeric string'}",
            {"value_set": ["String"] if role in STRING_ROLES else COUNT_KINDS},
        )
        for role in mapped
    ]


def _rules() -> list:
    return [
        not_null("missing_field", "f_start_time", "start_time is unset"),
        matches(
            "missing_field",
            "traffic",
            "^(http|tcp|conflict)$",
            "neither HTTP nor TCP: no protocol, method, x-request-id, non-zero response_code or route kind says which",
        ),
        matches(
            "invalid_field",
            "traffic",
            "^(http|tcp|unknown)$",
            "HTTP and TCP signals disagree (protocol written unset or a tcp/tls/udp route kind, "
            "yet a method, x-request-id, status or http/grpc route kind)",
        ),
        not_null("missing_field", "id", "x-request-id is unset on an HTTP line"),
        matches("invalid_time", "f_start_time", RFC3339, "start_time is not RFC 3339"),
        matches("invalid_field", "f_response_code", r"^[0-9]{1,3}$", "response_code is not an HTTP status"),
        *(
            matches("invalid_value", f"f_{role}", COUNT, f"{role} is not a non-negative integer")
            for role in ("bytes_sent", "bytes_received", "duration")
        ),
        not_null("unattributed", "attr_key", "no attribution key: no role of the source's attribution_key matches its pattern"),
    ]


def _written(fields: Fields, role: str) -> str:
    """The record has the role's key at all (any value, null included)."""
    reads = [f"{fields.line.raw(keys, args)} != ''" for keys, args in fields.paths(role)]
    return f"({' OR '.join(reads)})" if reads else "false"


def _first_match(roles: tuple[str, ...], pattern: str, then) -> str:
    """`then(f_<role>)` for the first role whose value matches `pattern`, else NULL."""
    branches = [f"match(ifNull(f_{role}, ''), {pattern}), {then(f'f_{role}')}" for role in roles]
    return f"multiIf({', '.join(branches)}, NULL)"


def _lookup_detail(roles: tuple[str, ...]) -> str:
    """What the key was looked up in, for an unattributed line's quarantine detail (ingest/hour.py)."""
    shown = ", ', ', ".join(f"'{role} ', if(f_{role} IS NULL, 'unset', concat('\"', f_{role}, '\"'))" for role in roles)
    return (
        f"if({' AND '.join(f'f_{role} IS NULL' for role in roles)}, "
        f"'no route: {' and '.join(roles)} {'are' if len(roles) > 1 else 'is'} unset (NR, route_not_found)', "
        f"concat('no attribution key: the attribution_key pattern matches none of ', {shown}))"
    )


def mapping(source: Source, prefix: str) -> Mapping:
    fields = Fields(source, prefix, unset=UNSET)
    key = source.attribution_key
    cols = fields.role_columns()
    for rule in _type_rules(source):
        cols[rule.column] = fields.kind(rule.column.removesuffix("_kind"))
    cols["route_kind"] = _first_match(("route_name", "upstream_cluster"), ROUTE_KIND, lambda v: f"extract({v}, {ROUTE_KIND})")
    http = [
        ("f_protocol IS NOT NULL", "protocol"),
        ("f_method IS NOT NULL", "method"),
        ("f_request_id IS NOT NULL", "x-request-id"),
        ("match(ifNull(f_response_code, ''), '^0*[1-9][0-9]*$')", "response_code"),
        (f"route_kind IN {HTTP_KINDS}", "route kind"),
    ]
    tcp = [(f"{_written(fields, 'protocol')} AND f_protocol IS NULL", "protocol unset"), (f"route_kind IN {TCP_KINDS}", "route kind")]
    cols["http_signals"] = "arrayFilter(s -> s != '', [" + ", ".join(f"if({c}, '{n}', '')" for c, n in http) + "])"
    cols["tcp_signals"] = "arrayFilter(s -> s != '', [" + ", ".join(f"if({c}, '{n}', '')" for c, n in tcp) + "])"
    cols["traffic"] = (
        "multiIf(notEmpty(http_signals) AND notEmpty(tcp_signals), 'conflict', "
        "notEmpty(http_signals), 'http', notEmpty(tcp_signals), 'tcp', 'unknown')"
    )
    # A conflicting line keeps the HTTP type (never TCP) and is quarantined by its rule; an unknown one has none.
    cols["raw_type"] = "multiIf(traffic = 'tcp', 'tcp', traffic = 'unknown', NULL, 'http')"
    cols["type"] = fields.event_type("raw_type")
    cols["source"] = fields.bind("source", source.name)
    cols["id"] = f"if(raw_type = 'http', f_request_id, concat('{TCP_ID_PREFIX}', lower(hex(SHA256(raw)))))"
    cols["time"] = "parseDateTime64BestEffortOrNull(f_start_time, 6, 'UTC')"
    pattern = fields.bind("key_pattern", key.pattern)
    cols["attr_from"] = _first_match(key.roles, pattern, lambda v: v)
    kind = (
        fields.bind("key_kind", key.kind)
        if key.kind
        else f"regexpExtract(ifNull(attr_from, ''), {pattern}, {{{prefix}_kind_group:UInt16}})"
    )
    fields.params[f"{prefix}_kind_group"], fields.params[f"{prefix}_key_group"] = key.kind_group, key.key_group
    cols["attr_key"] = f"nullIf(regexpExtract(ifNull(attr_from, ''), {pattern}, {{{prefix}_key_group:UInt16}}), '')"
    cols["attr_kind"] = f"if(attr_key IS NULL, NULL, nullIf({kind}, ''))"
    cols["attr_lookup"] = _lookup_detail(key.roles)
    counts = {member: f"coalesce(f_{role}, '0')" for member, role in COUNT_MEMBERS.items()}
    duration = counts[SECONDS_OF]
    derived = {member: json_string(f"f_{role}") for member, role in STRING_MEMBERS.items()}
    derived["route"] = json_string("if(attr_key IS NULL, NULL, concat(attr_kind, '/', attr_key))")
    derived["response_code"] = json_integer(f"f_{INTEGER_MEMBERS['response_code']}")
    derived["response_flags"] = derived.pop("response_flags")  # the members' order in `data`, as before
    derived.update({member: json_integer(expr) for member, expr in counts.items()})
    derived["duration_seconds"] = f"if(match({duration}, '{COUNT}'), toString(toDecimal128({duration}, 3) / {SECONDS_DIVISOR}), 'null')"
    cols["data"] = record_json(derived, unset_members(fields.line.record))
    return Mapping(cols, fields.params, _rules() + _type_rules(source), attributed=True, line=fields.line.columns, line_ok=fields.line.ok)


def locate(source: Source, keys: tuple[str, ...], event: dict) -> dict:
    """Where verify.py finds the event's id and a meter's value (`keys` into `data`) in the raw line."""
    if event["id"].startswith(TCP_ID_PREFIX):
        ident = {"sha256": TCP_ID_PREFIX}
    else:
        ident = {"paths": role_paths(source, "request_id"), "unset": list(UNSET)}
    if not keys:
        return {"record": "line", "id": ident, "value": None}
    member = keys[0]
    if len(keys) == 1 and member in {**STRING_MEMBERS, **INTEGER_MEMBERS}:
        value = {"paths": role_paths(source, {**STRING_MEMBERS, **INTEGER_MEMBERS}[member]), "unset": list(UNSET)}
    elif len(keys) == 1 and member in COUNT_MEMBERS:
        value = {"paths": role_paths(source, COUNT_MEMBERS[member]), "unset": list(UNSET), "absent": "0"}
    elif len(keys) == 1 and member == "duration_seconds":
        role = COUNT_MEMBERS[SECONDS_OF]
        value = {"paths": role_paths(source, role), "unset": list(UNSET), "absent": "0", "divide": str(SECONDS_DIVISOR)}
    elif member == "route":
        value = {"mapped": "the route is the attribution key the pipeline derived, not a field of the line"}
    else:  # one of the record's own members, as written ("-" at the top level is unset)
        value = {"paths": [list(keys)], "unset": list(UNSET) if len(keys) == 1 else []}
    return {"record": "line", "id": ident, "value": value}
