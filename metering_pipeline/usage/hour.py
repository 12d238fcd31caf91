"""One hour of usage_hourly, rebuilt from the hour's accepted events and swapped in atomically."""

from dataclasses import dataclass
from datetime import UTC, datetime

from metering_pipeline.catalog import Catalog
from metering_pipeline.usage.sql import usage_insert
from metering_pipeline.warehouse.staging import staging, swap_partition
from metering_pipeline.warehouse.tables import EVENTS, USAGE_HOURLY, ensure_tables


@dataclass
class UsageReport:
    hour: datetime
    rows: int
    tenants: int
    events: int


def build_usage_hour(client, catalog: Catalog, hour: datetime) -> UsageReport:
    """Only the meters of the event types the hour holds get a SELECT: each one scans the hour,
    and a meter without events has no rows."""
    ensure_tables(client, EVENTS, USAGE_HOURLY)
    loaded_at = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    at = {"hour": hour.replace(tzinfo=None)}
    present = client.query(f"SELECT DISTINCT type FROM `{EVENTS}` WHERE hour = {{hour:DateTime('UTC')}}", parameters=at)
    types = {t for (t,) in present.result_rows}
    with staging(client) as area:
        staged = area.like(USAGE_HOURLY)
        insert = usage_insert(catalog, staged, types)
        if insert:
            client.command(insert[0], parameters={**insert[1], **at, "loaded_at": loaded_at})
        rows, tenants, events = client.query(f"SELECT count(), uniqExact(tenant_id), sum(event_count) FROM `{staged}`").result_rows[0]
        swap_partition(client, USAGE_HOURLY, staged, hour)
    return UsageReport(hour=hour, rows=rows, tenants=tenants, events=int(events))
