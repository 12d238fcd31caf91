"""A tenant's local days and billing periods as UTC intervals: the one place local time is computed.

A period is billed in the zone in force at its start (the calendar entry whose validity holds
that instant) and runs to that zone's next boundary (local midnight; for billing periods, local
midnight of the anchor day). When the zone changes, the period running at the change finishes in
the old zone and the next one starts where it ended, in the new zone, up to the new zone's next
boundary, so the periods tile time with no gap and no overlap, and no usage is billed twice or
lost (the fault behind "double billing for UTC+X customers"). If the new zone's period at that
instant has the same label as the one just finished (a move west), the finished period runs on
to the new zone's boundary instead of leaving a second period with the same label.

Labels are local dates: a day's date, or the date a billing period starts on.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from metering_pipeline.catalog.attribution import BEGINNING
from metering_pipeline.catalog.calendars import DEFAULT_ANCHOR_DAY, DEFAULT_TIMEZONE, CalendarEntry

DAY, BILLING_PERIOD = "day", "billing_period"
KINDS = (DAY, BILLING_PERIOD)
# Longer than any period of a kind, with its hand-over: past this after a zone change, periods are natural.
_SETTLED = {DAY: timedelta(days=4), BILLING_PERIOD: timedelta(days=95)}


@dataclass(frozen=True)
class Period:
    tenant_id: str
    kind: str
    label: date
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    timezone: str
    anchor_day: int


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant `day` starts in `zone`. A midnight skipped by a DST change (fold 0 reads it
    with the offset before the change) is the change itself: the day starts when the clocks jump."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return day.replace(year=day.year + month // 12, month=month % 12 + 1)


def natural(entry: CalendarEntry, kind: str, moment: datetime) -> tuple[date, datetime, datetime]:
    """(label, start, end) of the period of `entry`'s zone and anchor that holds `moment`."""
    zone = entry.zone
    local = moment.astimezone(zone).date()
    if kind == DAY:
        label, following = local, local + timedelta(days=1)
    else:
        anchor = local.replace(day=entry.anchor_day)
        label = anchor if local.day >= entry.anchor_day else _add_months(anchor, -1)
        following = _add_months(label, 1)
    start, end = local_midnight(label, zone), local_midnight(following, zone)
    if not start <= moment < end:  # a local date can repeat around a skipped midnight; take the neighbour
        return natural(entry, kind, end if moment >= end else start - timedelta(seconds=1))
    return label, start, end


def timeline(tenant_id: str, entries) -> list[CalendarEntry]:
    """The tenant's entries in order with every gap (before, between, after) filled by the default
    calendar, so each instant has exactly one entry in force."""
    mine = sorted((e for e in entries if e.tenant_id == tenant_id), key=lambda e: e.valid_from)
    filled, cursor = [], BEGINNING
    for entry in mine:
        if entry.valid_from > cursor:
            filled.append(CalendarEntry(tenant_id, DEFAULT_TIMEZONE, DEFAULT_ANCHOR_DAY, cursor, entry.valid_from))
        filled.append(entry)
        cursor = entry.valid_to
        if cursor is None:
            return filled
    filled.append(CalendarEntry(tenant_id, DEFAULT_TIMEZONE, DEFAULT_ANCHOR_DAY, cursor, None))
    return filled


def _in_force(segments: list[CalendarEntry], moment: datetime) -> int:
    for index, entry in enumerate(segments):
        if entry.valid_from <= moment and (entry.valid_to is None or moment < entry.valid_to):
            return index
    return 0  # before 1970: the first entry


def _period(segments: list[CalendarEntry], kind: str, start: datetime) -> Period:
    """The period starting at `start` (a period boundary): in the zone in force there, to its next
    boundary, run on while the zone in force at that boundary would repeat the label."""
    entry = segments[_in_force(segments, start)]
    label, _, end = natural(entry, kind, start)
    while True:
        following = segments[_in_force(segments, end)]
        if following == entry:
            break
        next_label, _, next_end = natural(following, kind, end)
        if next_label > label:
            break
        end = next_end
    return Period(entry.tenant_id, kind, label, start, end, entry.timezone, entry.anchor_day)


def _first_start(segments: list[CalendarEntry], kind: str, moment: datetime) -> datetime:
    """A period boundary at or before `moment` from which the walk reproduces the tenant's periods:
    the natural boundary of the entry in force when that entry has been in force long enough,
    else the boundary before the zone change."""
    index = _in_force(segments, moment)
    entry = segments[index]
    if index == 0 or moment - entry.valid_from > _SETTLED[kind]:
        return natural(entry, kind, moment)[1]
    change = entry.valid_from
    previous = segments[index - 1]
    start = natural(previous, kind, change - timedelta(microseconds=1))[1]
    return _first_start(segments, kind, start) if index > 1 and start - previous.valid_from <= _SETTLED[kind] else start


def periods(tenant_id: str, entries, kind: str, start: datetime, end: datetime) -> list[Period]:
    """The tenant's periods of `kind` overlapping [start, end), in order, tiling that span."""
    segments = timeline(tenant_id, entries)
    found, cursor = [], _first_start(segments, kind, start)
    while cursor < end:
        period = _period(segments, kind, cursor)
        if period.end > start:
            found.append(period)
        cursor = period.end
    return found
