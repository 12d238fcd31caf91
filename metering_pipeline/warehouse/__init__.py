"""The pipeline's ClickHouse tables and the staging swap that makes every hour replaceable.

tables.py holds the DDL of the tables every stage shares (events, quarantine, usage_hourly)
and `create_table`, the one CREATE shape. Tables one stage owns keep their columns beside
their owner and are created through it: export_ledger and export_revisions
(export/ledger.py), usage_alerts, usage_alert_drops and usage_quotas (alerts/tables.py),
published_meters (catalog/lifecycle.py), and the configured attribution table plus its
per-hour staging copy (attribution/stage.py, whose name is bound as an identifier).
"""
