"""Evaluate quotas for a run's hours, billing period by billing period, in hour order, and store what
fired or dropped.

A quota period is the tenant's billing period in its own calendar (calendars/periods.py: its zone
and anchor day, the zone in force at the period's start; a UTC month from the 1st by default).
An hour that a period boundary cuts (18:30 UTC for Asia/Kolkata) is evaluated in both periods,
each with its own part of the hour. Alerts are keyed by the period's label (its local start date).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from metering_pipeline.alerts.delivery import alert_text
from metering_pipeline.alerts.evaluate import Crossing, Drop, evaluate_hour
from metering_pipeline.alerts.quotas import Quota, effective
from metering_pipeline.alerts.store import (
    fired_in,
    insert_drops,
    insert_fired,
    table_quotas,
)
from metering_pipeline.alerts.tables import ensure_alert_tables
from metering_pipeline.alerts.usage import period_to_date
from metering_pipeline.calendars.periods import BILLING_PERIOD, periods
from metering_pipeline.calendars.store import calendar_entries
from metering_pipeline.catalog import Catalog


@dataclass
class AlertReport:
    fired: list[Crossing] = field(default_factory=list)
    drops: list[Drop] = field(default_factory=list)
    drops_recorded: int = 0
    quotas: int = 0
    ignored: list[str] = field(default_factory=list)  # quotas the catalog cannot evaluate (alerts/quotas.py)


def quota_periods(entries, tenants, hours: list[datetime]) -> dict[tuple[date, datetime, datetime], dict[str, list[datetime]]]:
    """{(label, start, end): {tenant: [hours]}}: the billing periods of each tenant that overlap each
    of the (naive UTC) hours, with naive UTC bounds."""
    units: dict = defaultdict(lambda: defaultdict(list))
    for tenant in sorted(tenants):
        for hour in sorted(hours):
            start = hour.replace(tzinfo=UTC)
            for p in periods(tenant, entries, BILLING_PERIOD, start, start + timedelta(hours=1)):
                bounds = (p.label, p.start.replace(tzinfo=None), p.end.replace(tzinfo=None))
                units[bounds][tenant].append(hour)
    return units


def evaluate_hours(client, catalog: Catalog, file_quotas: list[Quota], hours: list[datetime], status: str) -> AlertReport:
    """`hours` are naive UTC hour starts; `status` is what a new alert starts as (pending or stored)."""
    ensure_alert_tables(client)
    quotas_all = file_quotas + table_quotas(client)
    report = AlertReport()
    units = quota_periods(calendar_entries(client, catalog), {q.tenant for q in quotas_all}, hours)
    for (period, start, end), tenant_hours in sorted(units.items()):
        quotas, ignored = effective(quotas_all, period.replace(day=1), catalog)
        quotas = [q for q in quotas if q.tenant in tenant_hours]
        report.ignored += [problem for problem in ignored if problem not in report.ignored]
        report.quotas = max(report.quotas, len(quotas))
        period_hours = sorted({h for hs in tenant_hours.values() for h in hs})
        series = {}
        for meter_name in sorted({q.meter for q in quotas}):
            tenants = sorted({q.tenant for q in quotas if q.meter == meter_name})
            series[meter_name] = period_to_date(client, catalog.meter(meter_name), tenants, start, end, period_hours[-1])
        fired = fired_in(client, period)
        crossings, drops = [], []
        for hour in period_hours:
            for quota in quotas:
                if hour not in tenant_hours[quota.tenant]:
                    continue
                done = {t: crossed for (tenant, meter, t), crossed in fired.items() if (tenant, meter) == (quota.tenant, quota.meter)}
                new, dropped = evaluate_hour(quota, series[quota.meter].get(quota.tenant, []), hour, done)
                for crossing in new:
                    fired[(quota.tenant, quota.meter, crossing.threshold)] = crossing.crossed_hour
                crossings += new
                drops += dropped
        texts = [(catalog.meter(c.quota.meter).unit, alert_text(c, catalog.meter(c.quota.meter).unit)) for c in crossings]
        insert_fired(client, period, crossings, texts, status)
        report.drops_recorded += insert_drops(client, drops, period)
        report.fired += crossings
        report.drops += drops
    return report
