"""The pipeline's ClickHouse tables and the staging swap that makes every hour replaceable."""
