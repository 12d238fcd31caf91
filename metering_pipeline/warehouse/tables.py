"""DDL for the tables the pipeline owns. Every table is partitioned by hour so a rerun swaps exactly one hour.

Hourly partitions give ~720 partitions a month per table; that is the price of atomic
`REPLACE PARTITION` per hour, and a TTL on raw events keeps it bounded in production.
Staging tables are created from the same DDL (same columns, partition key and sort key),
which `REPLACE PARTITION` requires.
"""

import re

from metering_pipeline.warehouse.topology import cluster_of, on_cluster, replicated

# A database or table name a user configures (METERING_DATABASE, the catalog's attribution table):
# a plain identifier, so it can never carry SQL, a path or a quote.
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

EVENTS = "events"
QUARANTINE = "quarantine"
USAGE_HOURLY = "usage_hourly"
USAGE_QUARTER_HOURLY = "usage_quarter_hourly"
TENANT_PERIODS = "tenant_periods"
DUPLICATES = "duplicates"
LANDED_FILES = "landed_files"

_COLUMNS = {
    EVENTS: """
        source LowCardinality(String) COMMENT 'CloudEvents source; (source, id) is the dedup key',
        id String,
        type LowCardinality(String) COMMENT 'Event type, matched to meters',
        tenant_id String,
        billing_account_id String DEFAULT '' COMMENT 'Set by attribution; empty when the source has none',
        time DateTime64(6, 'UTC'),
        hour DateTime('UTC'),
        data String COMMENT 'The event data object as JSON text',
        bytes UInt32 COMMENT 'Length of the raw line in bytes',
        source_file String,
        line_no UInt32,
        loaded_at DateTime('UTC') COMMENT 'When the hour was last materialized'
    """,
    QUARANTINE: """
        hour DateTime('UTC'),
        landing_source LowCardinality(String),
        source_file String,
        line_no UInt32,
        reason LowCardinality(String),
        detail String,
        raw String COMMENT 'The raw line, truncated to 64 KiB',
        raw_bytes UInt64 COMMENT 'Full length of the raw line',
        loaded_at DateTime('UTC'),
        tenant_ids Array(String) DEFAULT [] COMMENT 'Tenants the line''s events resolved to (subject or attribution); empty when none was'
    """,
    USAGE_HOURLY: """
        hour DateTime('UTC'),
        tenant_id String,
        billing_account_id String DEFAULT '',
        meter LowCardinality(String),
        event_type LowCardinality(String),
        aggregation LowCardinality(String),
        unit LowCardinality(String),
        dimensions Map(String, String),
        value Decimal(38, 9),
        event_count UInt64,
        bytes_ingested UInt64,
        loaded_at DateTime('UTC')
    """,
    # usage_hourly's rows split into the hour's four 15-minute windows (UTC offsets are all multiples
    # of 15 minutes, so any tenant's local day or month is a whole number of these windows).
    USAGE_QUARTER_HOURLY: """
        hour DateTime('UTC'),
        window_start DateTime('UTC') COMMENT 'Start of the 15-minute window (minute 00, 15, 30 or 45)',
        tenant_id String,
        billing_account_id String DEFAULT '',
        meter LowCardinality(String),
        event_type LowCardinality(String),
        aggregation LowCardinality(String),
        unit LowCardinality(String),
        dimensions Map(String, String),
        value Decimal(38, 9) COMMENT 'unique_count: distinct values within the window only; never summed',
        event_count UInt64,
        bytes_ingested UInt64,
        loaded_at DateTime('UTC')
    """,
    # Each tenant's local days and billing periods overlapping the hour (calendars/store.py).
    TENANT_PERIODS: """
        hour DateTime('UTC') COMMENT 'The UTC hour the period overlaps (partition key)',
        tenant_id String,
        kind LowCardinality(String) COMMENT 'day or billing_period',
        label Date COMMENT 'Local date of the day, or the local date the billing period starts on',
        period_start DateTime('UTC'),
        period_end DateTime('UTC') COMMENT 'Exclusive',
        timezone LowCardinality(String) COMMENT 'IANA zone in force at the period start',
        anchor_day UInt8
    """,
    DUPLICATES: """
        hour DateTime('UTC'),
        source LowCardinality(String) COMMENT '(source, id): the dedup key the dropped copy shares with the kept one',
        id String,
        type LowCardinality(String),
        tenant_id String,
        billing_account_id String DEFAULT '',
        time DateTime64(6, 'UTC'),
        data String COMMENT 'The dropped copy''s data object as JSON text',
        source_file String COMMENT 'Where the dropped copy came from',
        line_no UInt32,
        sub UInt32 COMMENT 'Position of the event within its line (batches, multi-amount records)',
        kept_file String COMMENT 'Where the copy that was counted came from',
        kept_line_no UInt32,
        kept_sub UInt32,
        identical Bool COMMENT 'bills the same as the kept copy: type, tenant, billing account, each meter''s value and dimensions',
        loaded_at DateTime('UTC')
    """,
    LANDED_FILES: """
        hour DateTime('UTC'),
        landing_source LowCardinality(String),
        source_file String,
        bytes UInt64 COMMENT 'Stored size (compressed for .gz)',
        version String COMMENT 'ETag on S3, mtime in ns locally',
        lines_read UInt64 COMMENT 'Non-blank lines read, oversized and file faults included',
        loaded_at DateTime('UTC')
    """,
}

_SORT_KEYS = {
    EVENTS: "(tenant_id, type, source, id)",
    QUARANTINE: "(landing_source, source_file, line_no)",
    USAGE_HOURLY: "(tenant_id, meter, billing_account_id)",
    USAGE_QUARTER_HOURLY: "(tenant_id, meter, billing_account_id, window_start)",
    TENANT_PERIODS: "(tenant_id, kind, period_start)",
    DUPLICATES: "(source, id, source_file, line_no, sub)",
    LANDED_FILES: "(landing_source, source_file)",
}


def columns(table: str) -> str:
    """The column definitions of one of the pipeline's tables, for a work table built on them."""
    return _COLUMNS[table].strip()


def create_ddl(name: str, columns: str, engine: str, cluster: str = "") -> str:
    """The one shape of every CREATE TABLE the pipeline runs; each table's owner keeps its columns and engine.
    On a cluster (warehouse/topology.py) the table is created on every node, replicated."""
    return f"CREATE TABLE IF NOT EXISTS `{name}`{on_cluster(cluster)} ({columns}) ENGINE = {replicated(engine, cluster)}"


def create_table(client, name: str, columns: str, engine: str) -> None:
    client.command(create_ddl(name, columns, engine, cluster_of(client)))


def table_ddl(table: str, name: str | None = None, cluster: str = "", settings: str = "") -> str:
    """CREATE TABLE for one of the pipeline's tables, optionally under another (staging, always local) name,
    with MergeTree `settings` (which REPLACE PARTITION does not compare: a staging copy may differ in them)."""
    engine = f"MergeTree PARTITION BY hour ORDER BY {_SORT_KEYS[table]}" + (f" SETTINGS {settings}" if settings else "")
    return create_ddl(name or table, _COLUMNS[table], engine, cluster)


# Columns added after a table was first released: `ensure_tables` adds them to a table an older
# version created (each is also the last of the table's _COLUMNS, where ADD COLUMN puts it, so
# staging tables made from _COLUMNS have the same structure and REPLACE PARTITION accepts them).
_ADDED = {QUARANTINE: ("tenant_ids",)}


def _added_column(table: str, name: str) -> str:
    return next(line.strip().rstrip(",") for line in _COLUMNS[table].splitlines() if line.strip().startswith(f"{name} "))


def _add_missing_columns(client, table: str, cluster: str) -> None:
    """Only a table that lacks one is altered: an ALTER ON CLUSTER goes through the DDL queue of every node."""
    have = {
        name
        for (name,) in client.query(
            "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String}", parameters={"t": table}
        ).result_rows
    }
    for name in _ADDED.get(table, ()):
        if name not in have:
            client.command(f"ALTER TABLE `{table}`{on_cluster(cluster)} ADD COLUMN IF NOT EXISTS {_added_column(table, name)}")


def ensure_tables(client, *tables: str) -> None:
    cluster = cluster_of(client)
    for table in tables or tuple(_COLUMNS):
        client.command(table_ddl(table, cluster=cluster))
        if table in _ADDED:
            _add_missing_columns(client, table, cluster)
