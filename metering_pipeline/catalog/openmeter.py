"""OpenMeter meter definitions as catalog meters, so a team running OpenMeter can compare numbers.

A catalog may hold an `openmeter:` section whose `meters:` is the `meters:` list of an
OpenMeter config (`config.yaml`, as in openmeterio/openmeter's config.example.yaml) pasted
as it is:

    openmeter:
      phase: draft              # optional, the default: see DEFAULT_PHASE
      units: {tokens_total: tokens}   # optional, slug -> unit: see DEFAULT_UNIT
      meters:
        - slug: tokens_total
          eventType: prompt
          aggregation: SUM
          valueProperty: $.tokens
          groupBy: {model: $.model}

Each entry becomes a catalog meter entry (a dict), which then goes through the same checks
as any meter in the catalog: slug -> name, eventType -> event_type, aggregation lower-cased,
valueProperty -> value (with missing_value: skip, see MISSING_VALUE), groupBy -> group_by,
description (or OpenMeter's display `name`).
The section lives inline rather than as a path to the OpenMeter file so that the catalog
digest and the published-meter checks cover it: an edit to the meters is an edit to the catalog.

Refused, with the meter named: OpenMeter's AVG and LATEST (an hour's average or latest value
cannot be added up into a billing period the way the usage table's hourly rows are, so the
numbers would differ from OpenMeter's over any window longer than an hour), and any key this
module does not translate (`eventFrom` would make OpenMeter ignore earlier events, which this
pipeline would count; an unknown key is more likely a typo than something safe to drop). Keys
other than `meters`, `units` and `phase` in the section are refused too, which also keeps the
rest of an OpenMeter config (database URLs, API keys) out of the catalog.
"""

from metering_pipeline.catalog.errors import CatalogError

# OpenMeter meters carry no unit and this catalog requires one: "1" is the unit of a plain number
# (UCUM, as OpenTelemetry uses it), true of every OpenMeter aggregation; `units` names a real one.
DEFAULT_UNIT = "1"
# Imported meters are drafts unless the section says otherwise: measured and exported under the
# draft prefix for comparison, not frozen as billing meters by their first run.
DEFAULT_PHASE = "draft"
# OpenMeter's meter query reads a value with toFloat64OrNull(JSON_VALUE(...)): an event of the meter's
# type without the value adds nothing to that meter and still counts for its type's other meters (its
# quickstart sends a `request` without `duration_ms` to a config that sums it). `skip` is that rule.
MISSING_VALUE = "skip"
AGGREGATIONS = {"COUNT": "count", "SUM": "sum", "MAX": "max", "MIN": "min", "UNIQUE_COUNT": "unique_count"}
REFUSED = ("AVG", "LATEST")
METER_KEYS = {
    "slug",
    "name",
    "description",
    "eventType",
    "aggregation",
    "valueProperty",
    "groupBy",
    # Older OpenMeter meters (API until 2025) carry the granularity OpenMeter pre-aggregated at;
    # sums over an hour do not depend on it, so it is accepted and has no effect here.
    "windowSize",
}
SECTION_KEYS = {"meters", "units", "phase"}


def _meter(entry, phase: str, units: dict) -> dict:
    if not isinstance(entry, dict):
        raise CatalogError(f"openmeter meter must be a mapping, got {entry!r}")
    slug = entry.get("slug")
    if not isinstance(slug, str) or not slug.strip():
        raise CatalogError(f"openmeter meter without a slug: {entry!r}")
    unknown = sorted(set(entry) - METER_KEYS)
    if unknown:
        raise CatalogError(f"openmeter meter {slug!r}: keys not supported here: {unknown}; known: {sorted(METER_KEYS)}")
    aggregation = entry.get("aggregation")
    if aggregation in REFUSED:
        raise CatalogError(
            f"openmeter meter {slug!r}: aggregation {aggregation} is not supported: usage is kept per hour and "
            f"added up over billing periods, which an hourly {aggregation.lower()} cannot be; use SUM and COUNT meters "
            f"and divide, or leave this meter in OpenMeter"
        )
    if aggregation not in AGGREGATIONS:
        raise CatalogError(f"openmeter meter {slug!r}: aggregation must be one of {sorted(AGGREGATIONS)}, got {aggregation!r}")
    meter = {
        "name": slug,
        "event_type": entry.get("eventType"),
        "aggregation": AGGREGATIONS[aggregation],
        "unit": units.get(slug, DEFAULT_UNIT),
        "description": entry.get("description") or entry.get("name") or "",
        "phase": phase,
    }
    if entry.get("valueProperty") is not None:
        meter["value"] = entry["valueProperty"]
        meter["missing_value"] = MISSING_VALUE
    group_by = entry.get("groupBy")
    if group_by is not None:
        if not isinstance(group_by, dict):
            raise CatalogError(f"openmeter meter {slug!r}: groupBy must map a name to a JSONPath, got {group_by!r}")
        meter["group_by"] = dict(group_by)
    return meter


def openmeter_meters(section) -> list[dict]:
    """Catalog meter entries for an `openmeter:` section (None or absent: none)."""
    if section is None:
        return []
    if not isinstance(section, dict):
        raise CatalogError(f"openmeter must be a mapping with 'meters', got {type(section).__name__}")
    unknown = sorted(set(section) - SECTION_KEYS)
    if unknown:
        raise CatalogError(
            f"openmeter: keys not supported here: {unknown}; known: {sorted(SECTION_KEYS)} (paste only the meters of an OpenMeter config)"
        )
    meters, units, phase = section.get("meters") or [], section.get("units") or {}, section.get("phase", DEFAULT_PHASE)
    if not isinstance(meters, list):
        raise CatalogError("openmeter: meters must be a list of OpenMeter meter definitions")
    if not isinstance(units, dict) or not all(isinstance(u, str) and u.strip() for u in units.values()):
        raise CatalogError(f"openmeter: units must map a meter slug to a non-empty unit, got {units!r}")
    converted = [_meter(entry, phase, units) for entry in meters]
    stray = sorted(set(units) - {m["name"] for m in converted})
    if stray:
        raise CatalogError(f"openmeter: units names meters that are not in openmeter.meters: {stray}")
    return converted
