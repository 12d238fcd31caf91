"""The meter catalog: sources, meters and attribution, loaded from YAML and checked before anything runs."""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from metering_pipeline.catalog.attribution import Attribution, parse_attribution, warn_unproduced_kinds
from metering_pipeline.catalog.calendars import Calendars, parse_calendars
from metering_pipeline.catalog.errors import CatalogError
from metering_pipeline.catalog.jsonpath import parse_jsonpath
from metering_pipeline.catalog.openmeter import openmeter_meters
from metering_pipeline.catalog.sources import Source, parse_source

AGGREGATIONS = ("count", "sum", "max", "min", "unique_count")
# draft: measured and exported under a draft prefix; published: name and unit are frozen.
PHASES = ("draft", "published")
# What an event of the meter's type whose value is absent (or null) means: `quarantine` (the
# default: a billable value went missing) or `skip` (this event does not contribute to this
# meter, as a request without token counts to a token meter). A present value that is not a
# valid quantity is quarantined either way.
MISSING_VALUE = ("quarantine", "skip")
DEFAULT_CATALOG = Path(__file__).with_name("default.yaml")


@dataclass(frozen=True)
class Meter:
    name: str
    event_type: str
    aggregation: str
    unit: str
    value: str | None = None
    group_by: dict[str, str] = field(default_factory=dict)
    description: str = ""
    phase: str = "published"
    missing_value: str = "quarantine"

    @property
    def value_keys(self) -> tuple[str, ...]:
        return parse_jsonpath(self.value) if self.value else ()

    @property
    def dimension_keys(self) -> dict[str, tuple[str, ...]]:
        return {name: parse_jsonpath(path) for name, path in self.group_by.items()}


@dataclass(frozen=True)
class Catalog:
    sources: tuple[Source, ...]
    meters: tuple[Meter, ...]
    digest: str
    attribution: Attribution = Attribution()
    calendars: Calendars = Calendars()
    # The canonical JSON text the digest is the hash of: what a dispute's evidence quotes as "the catalog in force".
    document: str = field(default="", compare=False, repr=False)

    @property
    def event_types(self) -> list[str]:
        return sorted({meter.event_type for meter in self.meters})

    def meter(self, name: str) -> Meter:
        for meter in self.meters:
            if meter.name == name:
                return meter
        raise KeyError(name)


def _meter(entry: dict) -> Meter:
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise CatalogError(f"meter without a name: {entry!r}")
    aggregation = entry.get("aggregation")
    if aggregation not in AGGREGATIONS:
        raise CatalogError(f"meter {name!r}: aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    for key in ("event_type", "unit"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise CatalogError(f"meter {name!r}: {key} is required")
    value = entry.get("value")
    if (aggregation == "count") != (value is None):
        raise CatalogError(f"meter {name!r}: 'value' is required for {aggregation} and not allowed for count")
    phase = entry.get("phase", "published")
    if phase not in PHASES:
        raise CatalogError(f"meter {name!r}: phase must be one of {PHASES}, got {phase!r}")
    missing_value = entry.get("missing_value", "quarantine")
    if missing_value not in MISSING_VALUE:
        raise CatalogError(f"meter {name!r}: missing_value must be one of {MISSING_VALUE}, got {missing_value!r}")
    if aggregation == "count" and "missing_value" in entry:
        raise CatalogError(f"meter {name!r}: missing_value is for meters with a value, not count")
    meter = Meter(
        name=name,
        event_type=entry["event_type"],
        aggregation=aggregation,
        unit=entry["unit"],
        value=value,
        group_by=dict(entry.get("group_by") or {}),
        description=entry.get("description", ""),
        phase=phase,
        missing_value=missing_value,
    )
    try:
        _ = meter.value_keys, meter.dimension_keys  # parse the JSONPaths now, not at first use
    except ValueError as exc:
        raise CatalogError(f"meter {name!r}: {exc}") from exc
    return meter


def parse_catalog(document: dict) -> Catalog:
    if not isinstance(document, dict):
        raise CatalogError("catalog must be a mapping with 'sources' and 'meters'")
    sources = tuple(parse_source(entry) for entry in document.get("sources") or [])
    meters = tuple(_meter(entry) for entry in [*(document.get("meters") or []), *openmeter_meters(document.get("openmeter"))])
    if not sources or not meters:
        raise CatalogError("catalog needs at least one source and one meter")
    for kind, names in (("source", [s.name for s in sources]), ("meter", [m.name for m in meters])):
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise CatalogError(f"duplicate {kind} names: {duplicated}")
    attribution = parse_attribution(document.get("attribution"))
    warn_unproduced_kinds(attribution, sources)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    calendars = parse_calendars(document.get("calendars"))
    return Catalog(sources=sources, meters=meters, digest=digest, attribution=attribution, calendars=calendars, document=canonical)


def load_catalog(path: str | Path | None = None) -> Catalog:
    path = Path(path) if path else DEFAULT_CATALOG
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"cannot read catalog {path}: {exc}") from exc
    return parse_catalog(document)
