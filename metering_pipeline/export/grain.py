"""Export grains: how finely an hour partition is cut into the windows records are exported for.

`hour` (the default) exports one window per hour, from usage_hourly, exactly as the export always
has. `quarter_hour` exports the hour's four 15-minute windows (minute 00, 15, 30, 45) from
usage_quarter_hourly, for billing systems that bill in local time (every UTC offset in use is a
multiple of 15 minutes). A destination has one grain (the export store's `grain` setting).

Each grain keeps its own ledger tables and manifest folder, and its ids differ (records.py), so
the two grains' records, revisions and manifests can never be mistaken for each other, and one
warehouse can feed an hourly and a quarter-hour destination side by side. Both grains' objects
use the same key layout, `<meter>/YYYY/MM/DD/HH/MM/`, so in one destination an hour's minute-00
folder could hold both: a destination holding one grain's manifests of an hour refuses the
other grain (`GrainConflict`), so one grain's sweep never touches the other's objects.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from metering_pipeline.export.records import Window, window_of
from metering_pipeline.warehouse.tables import USAGE_HOURLY, USAGE_QUARTER_HOURLY


class GrainConflict(RuntimeError):
    """An hour already exported at one grain is being exported at the other."""


@dataclass(frozen=True)
class Grain:
    name: str
    minutes: int
    suffix: str  # of its ledger table names and its manifest folder; empty for the hour (names unchanged)
    usage_table: str  # what it exports, one row per window x key
    usage_window: str  # that table's window start column (usage_hourly's window is its hour)

    def starts(self, hour_start: datetime) -> list[datetime]:
        """The starts of the hour's windows, in time order."""
        return [hour_start + timedelta(minutes=minute) for minute in range(0, 60, self.minutes)]

    def windows(self, partition_key: str) -> list[Window]:
        """The windows of the hour partition, in time order, each carrying the partition key."""
        step = timedelta(minutes=self.minutes)
        return [Window(partition_key, start, start + step) for start in self.starts(window_of(partition_key).start)]


HOUR = Grain("hour", 60, "", USAGE_HOURLY, "hour")
QUARTER_HOUR = Grain("quarter_hour", 15, "quarter_hour", USAGE_QUARTER_HOURLY, "window_start")
GRAINS = {grain.name: grain for grain in (HOUR, QUARTER_HOUR)}


def grain_named(name: str) -> Grain:
    try:
        return GRAINS[name]
    except KeyError:
        raise ValueError(f"unknown export grain {name!r}: expected one of {', '.join(GRAINS)} (METERING_EXPORT_GRAIN)") from None
