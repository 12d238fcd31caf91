"""Reading and writing the alert tables. Firing is an insert guarded by existence: a key that is
already in `usage_alerts` (in any status) is never inserted again, so reruns, backfills and
corrections cannot fire it twice. Evaluations run in the "clickhouse" pool one step at a
time; with a raised pool limit, ReplacingMergeTree still keeps one row per key.
"""

import time
from datetime import date, datetime

from metering_pipeline.alerts.evaluate import Crossing, Drop
from metering_pipeline.alerts.quotas import Quota, parse_period
from metering_pipeline.alerts.tables import (
    USAGE_ALERT_DROPS,
    USAGE_ALERTS,
    USAGE_QUOTAS,
)
from metering_pipeline.schedules import utc_now

ALERT_COLUMNS = [
    "period",
    "tenant_id",
    "meter",
    "threshold",
    "quota",
    "usage",
    "percent",
    "unit",
    "crossed_hour",
    "evaluated_hour",
    "fired_at",
    "message",
    "delivery_status",
    "attempts",
    "last_attempt_at",
    "last_error",
    "version",
]


def table_quotas(client) -> list[Quota]:
    rows = client.query(f"SELECT tenant_id, meter, period, quota, thresholds FROM `{USAGE_QUOTAS}` FINAL").result_rows
    return [
        Quota(tenant, meter, quota, tuple(sorted(set(thresholds))), parse_period(period) if period else None)
        for tenant, meter, period, quota, thresholds in rows
    ]


def fired_in(client, period: date) -> dict[tuple[str, str, int], datetime]:
    """{(tenant, meter, threshold): crossed hour} of every alert of the month, whatever its delivery status."""
    rows = client.query(
        f"SELECT tenant_id, meter, threshold, crossed_hour FROM `{USAGE_ALERTS}` FINAL WHERE period = {{p:Date}}",
        parameters={"p": period},
    ).result_rows
    return {(tenant, meter, threshold): crossed for tenant, meter, threshold, crossed in rows}


def insert_fired(client, period: date, crossings: list[Crossing], texts: list[tuple[str, str]], status: str) -> None:
    """`texts` holds (unit, message) per crossing."""
    if not crossings:
        return
    already = fired_in(client, period)
    now, version = utc_now().replace(tzinfo=None), time.time_ns()
    rows = [
        [
            period,
            c.quota.tenant,
            c.quota.meter,
            c.threshold,
            c.quota.quota,
            c.usage,
            c.percent,
            unit,
            c.crossed_hour,
            c.evaluated_hour,
            now,
            text,
            status,
            0,
            None,
            "",
            version,
        ]
        for c, (unit, text) in zip(crossings, texts)
        if (c.quota.tenant, c.quota.meter, c.threshold) not in already
    ]
    if rows:
        client.insert(USAGE_ALERTS, rows, column_names=ALERT_COLUMNS)


def insert_drops(client, drops: list[Drop], period: date) -> int:
    """Record each (key, hour, usage) of the quota `period` once: a rerun of the same correction adds nothing."""
    if not drops:
        return 0
    seen = set(
        client.query(
            f"SELECT tenant_id, meter, threshold, hour, usage FROM `{USAGE_ALERT_DROPS}` WHERE period = {{p:Date}}",
            parameters={"p": period},
        ).result_rows
    )
    now = utc_now().replace(tzinfo=None)
    rows = [
        [
            now,
            period,
            d.quota.tenant,
            d.quota.meter,
            d.threshold,
            d.quota.quota,
            d.usage,
            d.percent,
            d.hour,
            d.crossed_hour,
        ]
        for d in drops
        if (d.quota.tenant, d.quota.meter, d.threshold, d.hour, d.usage) not in seen
    ]
    if rows:
        client.insert(
            USAGE_ALERT_DROPS,
            rows,
            column_names=["recorded_at", "period", "tenant_id", "meter", "threshold", "quota", "usage", "percent", "hour", "crossed_hour"],
        )
    return len(rows)


def pending(client) -> list[dict]:
    result = client.query(
        f"SELECT {', '.join(ALERT_COLUMNS)} FROM `{USAGE_ALERTS}` FINAL WHERE delivery_status = 'pending' "
        "ORDER BY crossed_hour, tenant_id, meter, threshold"
    )
    return [dict(zip(ALERT_COLUMNS, row)) for row in result.result_rows]


def record_attempts(client, updated: list[dict]) -> None:
    """Write new versions of alerts whose delivery was tried (status, attempts, last error)."""
    if updated:
        version = time.time_ns()
        client.insert(USAGE_ALERTS, [[row[c] for c in ALERT_COLUMNS[:-1]] + [version] for row in updated], column_names=ALERT_COLUMNS)
