"""The alert tables. `usage_alerts` holds one row per (period, tenant, meter, threshold): a status
change is a new version of the row (ReplacingMergeTree), read with FINAL, so the key can
never show twice. `usage_alert_drops` records corrections that took usage back below a
threshold that had already fired (the alert stays fired). `usage_quotas` is optional input.
"""

from metering_pipeline.warehouse.tables import create_table

USAGE_ALERTS = "usage_alerts"
USAGE_ALERT_DROPS = "usage_alert_drops"
USAGE_QUOTAS = "usage_quotas"

_DDL = {
    USAGE_ALERTS: (
        """
        period Date COMMENT 'Start date of the tenant''s billing period (its calendar; the 1st of a UTC month by default)',
        tenant_id String,
        meter LowCardinality(String),
        threshold UInt16 COMMENT 'Percent of the quota',
        quota Decimal(38, 9),
        usage Decimal(38, 9) COMMENT 'Month-to-date usage when it fired',
        percent Decimal(18, 2),
        unit LowCardinality(String),
        crossed_hour DateTime('UTC') COMMENT 'The hour whose usage crossed the threshold',
        evaluated_hour DateTime('UTC') COMMENT 'The partition being evaluated when it fired',
        fired_at DateTime64(3, 'UTC'),
        message String,
        delivery_status LowCardinality(String) COMMENT 'pending | delivered | stored (no webhook)',
        attempts UInt32,
        last_attempt_at Nullable(DateTime64(3, 'UTC')),
        last_error String,
        version UInt64
    """,
        "ReplacingMergeTree(version) PARTITION BY toYYYYMM(period) ORDER BY (period, tenant_id, meter, threshold)",
    ),
    USAGE_ALERT_DROPS: (
        """
        recorded_at DateTime64(3, 'UTC'),
        period Date,
        tenant_id String,
        meter LowCardinality(String),
        threshold UInt16,
        quota Decimal(38, 9),
        usage Decimal(38, 9) COMMENT 'Month-to-date usage through `hour` after the correction',
        percent Decimal(18, 2),
        hour DateTime('UTC'),
        crossed_hour DateTime('UTC')
    """,
        "MergeTree PARTITION BY toYYYYMM(period) ORDER BY (period, tenant_id, meter, threshold, hour)",
    ),
    USAGE_QUOTAS: (
        """
        tenant_id String,
        meter String,
        period String DEFAULT '' COMMENT 'YYYY-MM, or empty for every month',
        quota Decimal(38, 9) COMMENT '0 switches the quota off',
        thresholds Array(UInt16) DEFAULT [50, 80, 95, 100],
        updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
    """,
        "ReplacingMergeTree(updated_at) ORDER BY (tenant_id, meter, period)",
    ),
}


def ensure_alert_tables(client) -> None:
    for name, (columns, engine) in _DDL.items():
        create_table(client, name, columns, engine)
