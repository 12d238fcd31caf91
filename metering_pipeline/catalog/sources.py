"""Sources: a landing folder, the format its lines are in, and the catalog's field mapping for it.

`fields` maps each role the format needs to a JSONPath (or a list tried in order, for a
field older producers named differently). `event_types` maps the type a format reads from a
record (or `*` for any) to the canonical event type: a template whose `{placeholders}` are
`type` (the type read) or a field role, `internal_{model_type}_total_tokens`, or a list of
templates tried in order. A template applies only to a record holding every field role it
names (present, not null, not blank); when none applies the type is unset and the record is
quarantined, because a template filled with an empty field (`internal__total_tokens`) or a
looser template the catalog did not list would meter the record as some other type. A list
is how one raw type serves producer generations that differ in a field: the Data API wrote
`model_type` once and no longer does.
"""

import re
from dataclasses import dataclass, field

from metering_pipeline.catalog.errors import CatalogError
from metering_pipeline.catalog.formats import FORMAT_SPECS, FORMATS
from metering_pipeline.catalog.jsonpath import parse_jsonpath

_SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
ANY_TYPE = "*"


@dataclass(frozen=True)
class Source:
    name: str
    format: str
    description: str = ""
    fields: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    # raw type -> its templates in the order tried; a template is (literal, name, literal, ...)
    event_types: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    attribution_kind: str = ""
    attribution_key: "AttributionKey | None" = None  # formats whose records name their kind (Envoy)

    @property
    def attribution_kinds(self) -> frozenset[str] | None:
        """The attribution kinds this source's records can have: empty when it is not attributed, None for any."""
        if self.attribution_key is not None:
            return self.attribution_key.kinds
        return frozenset({self.attribution_kind}) if self.attribution_kind else frozenset()


def parse_template(template, names: set[str], where: str) -> tuple[str, ...]:
    """Alternating literal and placeholder parts; every placeholder must be in `names`."""
    if not isinstance(template, str) or not template.strip():
        raise CatalogError(f"{where}: an event type template must be a non-empty string, got {template!r}")
    parts = _PLACEHOLDER.split(template)
    if any("{" in p or "}" in p for p in parts[::2]):
        raise CatalogError(f"{where}: stray brace in event type template {template!r}")
    unknown = sorted(set(parts[1::2]) - names)
    if unknown:
        raise CatalogError(f"{where}: event type template {template!r} uses unknown fields {unknown}")
    return tuple(parts)


def parse_templates(value, names: set[str], where: str) -> tuple[tuple[str, ...], ...]:
    """One template or a list tried in order (see the module docstring).

    Only `{type}` is always present (the raw type matched), so a template naming no field role
    always applies: templates listed after it would never be tried, and the catalog is refused
    rather than silently ignoring them.
    """
    templates = value if isinstance(value, list) else [value]
    if not templates:
        raise CatalogError(f"{where}: needs an event type template or a list of them")
    parsed = tuple(parse_template(t, names, where) for t in templates)
    for template, parts in zip(templates[:-1], parsed[:-1]):
        if not set(parts[1::2]) - {"type"}:
            raise CatalogError(
                f"{where}: event type template {template!r} always applies, so the templates listed after it are never tried"
            )
    return parsed


def _paths(value, where: str) -> tuple[tuple[str, ...], ...]:
    paths = value if isinstance(value, list) else [value]
    if not paths:
        raise CatalogError(f"{where}: needs a JSONPath or a list of them")
    try:
        return tuple(parse_jsonpath(p) for p in paths)
    except ValueError as exc:
        raise CatalogError(f"{where}: {exc}") from exc


# Envoy Gateway names routes `<kind>/<namespace>/<name>/rule/<i>/match/<j>/<host>` and clusters
# `<kind>/<namespace>/<name>/rule/<i>` (envoyproxy/gateway internal/gatewayapi/helpers.go,
# irRouteName / irRouteDestinationName / irTCPRouteName). The kinds are listed, not `[a-z]+`: a
# listed alternation tells which kinds a source can produce (so an entry of another kind is
# reported at load), and a merged backend cluster (`service/<ns>/<name>/<port>`, MergeBackends)
# names a backend shared by routes, which must not pass for a route.
GATEWAY_ROUTE_KINDS = ("httproute", "grpcroute", "tcproute", "tlsroute", "udproute")
GATEWAY_KEY_PATTERN = rf"^(?P<kind>{'|'.join(GATEWAY_ROUTE_KINDS)})/(?P<key>[^/]+/[^/]+)(/|$)"
DEFAULT_ATTRIBUTION_KEYS = {
    "envoy_access_log": {"from": ["route_name", "upstream_cluster"], "pattern": GATEWAY_KEY_PATTERN},
}
# Python `re` accepts these, ClickHouse's RE2 does not: refused at load rather than at the first hour.
_NOT_RE2 = re.compile(r"\(\?(=|!|<=|<!|>|\(|P=)|\\[1-9]")
_LITERALS = re.compile(r"[A-Za-z0-9_-]+(\|[A-Za-z0-9_-]+)*")


@dataclass(frozen=True)
class AttributionKey:
    """How a record's attribution (kind, key) is read: `pattern` over the first of `roles` it matches.

    The pattern is RE2 (ClickHouse) and Python `re` at once, with named groups `key` and, unless
    `kind` is given literally, `kind`. Groups are passed to ClickHouse by index (`regexpExtract`
    has no names), computed here; the pattern itself is a bound parameter, never SQL text.
    The first role whose value matches wins, not the first set one: Istio's `route_name` is set
    (`default`) but its key is in `upstream_cluster`.
    """

    roles: tuple[str, ...]
    pattern: str
    kind: str = ""  # literal kind; "" when the pattern's `kind` group gives it
    key_group: int = 0
    kind_group: int = 0
    kinds: frozenset[str] | None = None  # the kinds it can produce; None: any (not a literal alternation)


def _group_text(pattern: str, name: str) -> str:
    """The source text of named group `name` (balanced parentheses, escapes and classes skipped)."""
    start = pattern.index(f"(?P<{name}>") + len(f"(?P<{name}>")
    depth, i, in_class = 1, start, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return pattern[start:i]
        i += 1
    return ""


def parse_attribution_key(raw, roles: tuple[str, ...], where: str) -> AttributionKey:
    if not isinstance(raw, dict) or set(raw) - {"from", "pattern", "kind"}:
        raise CatalogError(f"{where}: attribution_key must be a mapping of from, pattern and optional kind: {raw!r}")
    sources = raw.get("from")
    sources = [sources] if isinstance(sources, str) else sources
    if not sources or not isinstance(sources, list) or any(r not in roles for r in sources):
        raise CatalogError(f"{where}: attribution_key.from must be field roles of the format {roles}, got {raw.get('from')!r}")
    pattern, kind = raw.get("pattern"), raw.get("kind") or ""
    if not isinstance(pattern, str) or not pattern or not isinstance(kind, str):
        raise CatalogError(f"{where}: attribution_key needs a pattern (a regular expression) and a string kind")
    if _NOT_RE2.search(pattern):
        raise CatalogError(
            f"{where}: attribution_key pattern {pattern!r} uses lookaround, backreferences, atomic "
            "or conditional groups, which ClickHouse's RE2 does not support"
        )
    try:
        groups = re.compile(pattern).groupindex
    except re.error as exc:
        raise CatalogError(f"{where}: attribution_key pattern {pattern!r} does not compile: {exc}") from None
    if "key" not in groups or bool(kind) == ("kind" in groups):
        raise CatalogError(
            f"{where}: attribution_key pattern {pattern!r} needs a named group (?P<key>...) and "
            "either a (?P<kind>...) group or a literal kind, not both"
        )
    if kind:
        kinds = frozenset({kind})
    else:
        text = _group_text(pattern, "kind")
        kinds = frozenset(text.split("|")) if _LITERALS.fullmatch(text) else None
    return AttributionKey(tuple(sources), pattern, kind, groups["key"], groups.get("kind", 0), kinds)


def parse_source(entry: dict) -> Source:
    name = entry.get("name")
    if not isinstance(name, str) or not _SOURCE_NAME.fullmatch(name):
        raise CatalogError(f"source name must match {_SOURCE_NAME.pattern}: {name!r}")
    spec = FORMAT_SPECS.get(entry.get("format"))
    if spec is None:
        raise CatalogError(f"source {name!r}: format must be one of {FORMATS}, got {entry.get('format')!r}")
    raw_fields = entry.get("fields") or {}
    unknown, missing = sorted(set(raw_fields) - set(spec.roles)), sorted(set(spec.required) - set(raw_fields))
    if unknown or missing:
        raise CatalogError(f"source {name!r}: fields unknown to {entry['format']}: {unknown}; required but unmapped: {missing}")
    fields = {role: _paths(value, f"source {name!r} field {role!r}") for role, value in raw_fields.items()}
    kind = entry.get("attribution_kind") or ""
    if spec.attributed and not spec.kind_in_record and not (isinstance(kind, str) and kind):
        raise CatalogError(f"source {name!r}: {entry['format']} needs an attribution_kind (the kind of its keys)")
    if kind and not (spec.attributed and not spec.kind_in_record):
        raise CatalogError(f"source {name!r}: {entry['format']} takes no attribution_kind")
    names = {"type", *spec.roles}
    event_types = {
        str(raw): parse_templates(templates, names, f"source {name!r} event type {str(raw)!r}")
        for raw, templates in (entry.get("event_types") or {}).items()
    }
    key = None
    if spec.kind_in_record:  # the format reads kind and key off the record: how is per source
        raw_key = entry.get("attribution_key", DEFAULT_ATTRIBUTION_KEYS[entry["format"]])
        key = parse_attribution_key(raw_key, spec.roles, f"source {name!r}")
    elif "attribution_key" in entry:
        raise CatalogError(f"source {name!r}: {entry['format']} takes no attribution_key (its kind is attribution_kind)")
    return Source(name, entry["format"], entry.get("description", ""), fields, event_types, kind, attribution_key=key)
