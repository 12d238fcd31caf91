"""Evaluate quotas for a run's hours, month by month, in hour order, and store what fired or dropped."""

from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import groupby

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
from metering_pipeline.alerts.usage import month_to_date
from metering_pipeline.catalog import Catalog


@dataclass
class AlertReport:
    fired: list[Crossing] = field(default_factory=list)
    drops: list[Drop] = field(default_factory=list)
    drops_recorded: int = 0
    quotas: int = 0
    ignored: list[str] = field(default_factory=list)  # quotas the catalog cannot evaluate (alerts/quotas.py)


def _month(hour: datetime) -> date:
    return hour.date().replace(day=1)


def evaluate_hours(client, catalog: Catalog, file_quotas: list[Quota], hours: list[datetime], status: str) -> AlertReport:
    """`hours` are naive UTC hour starts; `status` is what a new alert starts as (pending or stored)."""
    ensure_alert_tables(client)
    quotas_all = file_quotas + table_quotas(client)
    report = AlertReport()
    for period, month_hours in groupby(sorted(hours), key=_month):
        month_hours = list(month_hours)
        quotas, ignored = effective(quotas_all, period, catalog)
        report.ignored += [problem for problem in ignored if problem not in report.ignored]
        report.quotas = max(report.quotas, len(quotas))
        start = datetime(period.year, period.month, 1)
        series = {}
        for meter_name in sorted({q.meter for q in quotas}):
            tenants = sorted({q.tenant for q in quotas if q.meter == meter_name})
            series[meter_name] = month_to_date(client, catalog.meter(meter_name), tenants, start, month_hours[-1])
        fired = fired_in(client, period)
        crossings, drops = [], []
        for hour in month_hours:
            for quota in quotas:
                done = {t: crossed for (tenant, meter, t), crossed in fired.items() if (tenant, meter) == (quota.tenant, quota.meter)}
                new, dropped = evaluate_hour(quota, series[quota.meter].get(quota.tenant, []), hour, done)
                for crossing in new:
                    fired[(quota.tenant, quota.meter, crossing.threshold)] = crossing.crossed_hour
                crossings += new
                drops += dropped
        texts = [(catalog.meter(c.quota.meter).unit, alert_text(c, catalog.meter(c.quota.meter).unit)) for c in crossings]
        insert_fired(client, period, crossings, texts, status)
        report.drops_recorded += insert_drops(client, drops)
        report.fired += crossings
        report.drops += drops
    return report
