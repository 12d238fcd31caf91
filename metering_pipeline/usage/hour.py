"""One hour of usage_hourly and its 15-minute windows (usage_quarter_hourly), rebuilt from the hour's
accepted events and swapped in together."""

from dataclasses import dataclass
from datetime import UTC, datetime

from metering_pipeline.catalog import Catalog
from metering_pipeline.usage.sql import GRAINS_COLUMNS, GROUPING_SETTINGS, split_grain, usage_insert
from metering_pipeline.warehouse.staging import staging, swap_partition
from metering_pipeline.warehouse.tables import EVENTS, USAGE_HOURLY, USAGE_QUARTER_HOURLY, ensure_tables


@dataclass
class UsageReport:
    hour: datetime
    rows: int
    tenants: int
    events: int
    quarter_hour_rows: int = 0


def build_usage_hour(client, catalog: Catalog, hour: datetime) -> UsageReport:
    """Only the meters of the event types the hour holds get a SELECT: each one scans the hour once
    for both grains (usage/sql.py), and a meter without events has no rows. Both grains are
    built before either is swapped in, so a failure leaves both as they were; the two swaps follow each other (ClickHouse has no
    transaction across tables), and the `quarter_hours_match_hour` check compares them."""
    ensure_tables(client, EVENTS, USAGE_HOURLY, USAGE_QUARTER_HOURLY)
    loaded_at = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    at = {"hour": hour.replace(tzinfo=None)}
    present = client.query(f"SELECT DISTINCT type FROM `{EVENTS}` WHERE hour = {{hour:DateTime('UTC')}}", parameters=at)
    types = {t for (t,) in present.result_rows}
    with staging(client) as area:
        staged = area.like(USAGE_HOURLY)
        staged_windows = area.like(USAGE_QUARTER_HOURLY)
        insert = usage_insert(catalog, grains := area.table("usage_grains", GRAINS_COLUMNS), types)
        if insert:
            client.command(insert[0], parameters={**insert[1], **at}, settings=GROUPING_SETTINGS)
            for target, quarter_hours in ((staged, False), (staged_windows, True)):
                client.command(split_grain(grains, target, quarter_hours), parameters={**at, "loaded_at": loaded_at})
        rows, tenants, events = client.query(f"SELECT count(), uniqExact(tenant_id), sum(event_count) FROM `{staged}`").result_rows[0]
        windows = client.query(f"SELECT count() FROM `{staged_windows}`").result_rows[0][0]
        swap_partition(client, USAGE_HOURLY, staged, hour)
        swap_partition(client, USAGE_QUARTER_HOURLY, staged_windows, hour)
    return UsageReport(hour=hour, rows=rows, tenants=tenants, events=int(events), quarter_hour_rows=windows)
