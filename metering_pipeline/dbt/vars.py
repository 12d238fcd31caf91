"""dbt vars for a run: the partition window and the catalog's meters. Pure functions, no I/O."""

from datetime import UTC, datetime

from metering_pipeline.catalog import Catalog

VAR_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _utc_hour(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {moment!r}")
    moment = moment.astimezone(UTC)
    if moment.minute or moment.second or moment.microsecond:
        raise ValueError(f"{name} must fall on the hour, got {moment.isoformat()}")
    return moment


def window_vars(start: datetime, end: datetime) -> dict[str, str]:
    """min_hour / max_hour: the half-open window [start, end) as 'YYYY-MM-DD HH:00:00' UTC."""
    start, end = _utc_hour(start, "start"), _utc_hour(end, "end")
    if start >= end:
        raise ValueError(f"empty window: {start.isoformat()} >= {end.isoformat()}")
    return {"min_hour": start.strftime(VAR_TIME_FORMAT), "max_hour": end.strftime(VAR_TIME_FORMAT)}


def catalog_vars(catalog: Catalog) -> dict:
    """meters (names, for accepted_values) and unique_meters (what int_unique_meter_events reads)."""
    unique_meters = {
        meter.name: {
            "event_type": meter.event_type,
            "unit": meter.unit,
            "value": list(meter.value_keys),
            "dimensions": {name: list(keys) for name, keys in sorted(meter.dimension_keys.items())},
        }
        for meter in catalog.meters
        if meter.aggregation == "unique_count"
    }
    return {"meters": [meter.name for meter in catalog.meters], "unique_meters": unique_meters}


def dbt_vars(start: datetime, end: datetime, catalog: Catalog) -> dict:
    return {**window_vars(start, end), **catalog_vars(catalog)}


def main(argv: list[str] | None = None) -> int:
    """`python -m metering_pipeline.dbt.vars [FIRST_KEY [LAST_KEY]]`: the --vars JSON for a manual dbt run.

    With partition keys (YYYY-MM-DD-HH:00), the window from FIRST_KEY's hour through
    LAST_KEY's; without, only the catalog's meters (the window then defaults to everything).
    The catalog is METERING_CATALOG's, like the pipeline's.
    """
    import json
    import os
    import sys

    from metering_pipeline.catalog import load_catalog
    from metering_pipeline.partitions import hour_window

    keys = sys.argv[1:] if argv is None else argv
    if len(keys) > 2:
        print(main.__doc__, file=sys.stderr)
        return 2
    result = window_vars(hour_window(keys[0])[0], hour_window(keys[-1])[1]) if keys else {}
    result.update(catalog_vars(load_catalog(os.environ.get("METERING_CATALOG") or None)))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
