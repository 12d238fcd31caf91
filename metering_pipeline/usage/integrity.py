"""Cross-check usage_hourly against the events it came from, independently of the usage SQL."""

from datetime import datetime

from metering_pipeline.catalog import Catalog
from metering_pipeline.warehouse.tables import EVENTS, USAGE_HOURLY


def count_mismatches(client, catalog: Catalog, hour: datetime) -> list[tuple[str, int, int]]:
    """(meter, events of its type, event_count in usage) wherever the two disagree."""
    params = {"hour": hour.replace(tzinfo=None)}
    by_type = dict(client.query(
        f"SELECT type, count() FROM `{EVENTS}` WHERE hour = {{hour:DateTime('UTC')}} GROUP BY type", parameters=params
    ).result_rows)
    by_meter = dict(client.query(
        f"SELECT meter, sum(event_count) FROM `{USAGE_HOURLY}` WHERE hour = {{hour:DateTime('UTC')}} GROUP BY meter",
        parameters=params,
    ).result_rows)
    found = []
    for meter in catalog.meters:
        expected, got = by_type.get(meter.event_type, 0), int(by_meter.get(meter.name, 0))
        if expected != got:
            found.append((meter.name, expected, got))
    return found
