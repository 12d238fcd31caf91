"""Meter lifecycle: once published, a meter keeps its name and unit, because billing keys on them.

The set of meters ever published is recorded in ClickHouse (`published_meters`), beside the
usage it guards, so every process and host sees the same set. A catalog that renames,
removes, re-units or un-publishes a recorded meter is refused before anything is written;
draft meters may change freely until they are published.
"""

from datetime import UTC, datetime

from metering_pipeline.catalog.errors import CatalogError
from metering_pipeline.catalog.model import Catalog
from metering_pipeline.warehouse.tables import create_table

PUBLISHED_METERS = "published_meters"
_COLUMNS = ["name", "unit", "event_type", "aggregation", "catalog_digest", "recorded_at"]
_DDL = (
    "name String, unit String, event_type String, aggregation String, catalog_digest String, recorded_at DateTime('UTC')",
    "MergeTree ORDER BY name",
)


class PublishedMeterChanged(CatalogError):
    """The catalog changes a meter that was already published."""


def published_changes(catalog: Catalog, recorded: dict[str, str]) -> list[str]:
    """What the catalog does to recorded published meters (name -> unit) that it must not."""
    problems = []
    for name, unit in sorted(recorded.items()):
        try:
            meter = catalog.meter(name)
        except KeyError:
            problems.append(f"published meter {name!r} (unit {unit!r}) is missing; published meters cannot be renamed or removed")
            continue
        if meter.unit != unit:
            problems.append(f"published meter {name!r} changes its unit from {unit!r} to {meter.unit!r}")
        if meter.phase != "published":
            problems.append(f"published meter {name!r} cannot go back to {meter.phase}")
    return problems


def recorded_published(client) -> dict[str, str]:
    create_table(client, PUBLISHED_METERS, *_DDL)
    rows = client.query(f"SELECT name, argMin(unit, recorded_at) FROM `{PUBLISHED_METERS}` GROUP BY name").result_rows
    return dict(rows)


def enforce_published(client, catalog: Catalog) -> list[str]:
    """Refuse `catalog` if it changes a recorded published meter, else record its newly published ones."""
    recorded = recorded_published(client)
    problems = published_changes(catalog, recorded)
    if problems:
        raise PublishedMeterChanged(f"catalog {catalog.digest} refused: " + "; ".join(problems))
    new = [m for m in catalog.meters if m.phase == "published" and m.name not in recorded]
    if new:
        now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
        rows = [[m.name, m.unit, m.event_type, m.aggregation, catalog.digest, now] for m in new]
        client.insert(PUBLISHED_METERS, rows, column_names=_COLUMNS)
    return [m.name for m in new]
