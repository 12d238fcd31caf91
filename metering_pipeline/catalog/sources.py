"""Sources: a landing folder, the format its lines are in, and the catalog's field mapping for it.

`fields` maps each role the format needs to a JSONPath (or a list tried in order, for a
field older producers named differently). `event_types` maps the type a format reads from a
record (or `*` for any) to the canonical event type, a template whose `{placeholders}` are
`type` (the type read) or a field role: `internal_{model_type}_total_tokens`.
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
    event_types: dict[str, tuple[str, ...]] = field(default_factory=dict)  # template: literal, name, literal, ...
    attribution_kind: str = ""


def parse_template(template: str, names: set[str], where: str) -> tuple[str, ...]:
    """Alternating literal and placeholder parts; every placeholder must be in `names`."""
    parts = _PLACEHOLDER.split(template)
    if any("{" in p or "}" in p for p in parts[::2]):
        raise CatalogError(f"{where}: stray brace in event type template {template!r}")
    unknown = sorted(set(parts[1::2]) - names)
    if unknown:
        raise CatalogError(f"{where}: event type template {template!r} uses unknown fields {unknown}")
    return tuple(parts)


def _paths(value, where: str) -> tuple[tuple[str, ...], ...]:
    paths = value if isinstance(value, list) else [value]
    if not paths:
        raise CatalogError(f"{where}: needs a JSONPath or a list of them")
    try:
        return tuple(parse_jsonpath(p) for p in paths)
    except ValueError as exc:
        raise CatalogError(f"{where}: {exc}") from exc


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
        str(raw): parse_template(str(template), names, f"source {name!r}")
        for raw, template in (entry.get("event_types") or {}).items()
    }
    return Source(name, entry["format"], entry.get("description", ""), fields, event_types, kind)
