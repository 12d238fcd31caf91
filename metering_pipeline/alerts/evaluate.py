"""Which thresholds an hour's month-to-date usage fires, and which fired ones a correction undercut.

Pure: given the month-to-date series and what already fired, no I/O. Evaluating hour H
looks only at usage through H, so rerunning an earlier hour later never sees the future.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from metering_pipeline.alerts.quotas import Quota

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Crossing:
    """A threshold reached for the first time: it fires."""

    quota: Quota
    threshold: int
    usage: Decimal
    crossed_hour: datetime
    evaluated_hour: datetime

    @property
    def percent(self) -> Decimal:
        return percent_of(self.usage, self.quota.quota)


@dataclass(frozen=True)
class Drop:
    """A fired threshold that usage through `hour` no longer reaches, after a correction."""

    quota: Quota
    threshold: int
    usage: Decimal
    hour: datetime
    crossed_hour: datetime

    @property
    def percent(self) -> Decimal:
        return percent_of(self.usage, self.quota.quota)


def percent_of(usage: Decimal, quota: Decimal) -> Decimal:
    return (usage * 100 / quota).quantize(CENT)


def level(quota: Quota, threshold: int) -> Decimal:
    return quota.quota * threshold / 100


def usage_through(series: list[tuple[datetime, Decimal]], hour: datetime) -> Decimal:
    reached = [total for at, total in series if at <= hour]
    return reached[-1] if reached else Decimal(0)


def evaluate_hour(quota: Quota, series, hour: datetime, fired: dict[int, datetime]) -> tuple[list[Crossing], list[Drop]]:
    """`fired` maps threshold -> crossed hour for what this quota already fired this month."""
    usage = usage_through(series, hour)
    crossings, drops = [], []
    for threshold in quota.thresholds:
        target = level(quota, threshold)
        if threshold in fired:
            if fired[threshold] <= hour and usage < target:
                drops.append(Drop(quota, threshold, usage, hour, fired[threshold]))
        elif usage >= target:
            crossed = next(at for at, total in series if total >= target)
            crossings.append(Crossing(quota, threshold, usage, crossed, hour))
    return crossings, drops
