from dbt.adapters.clickhouse.impl import ClickHouseAdapter

from dbt.adapters.chdb.connections import ChdbConnectionManager


class ChdbAdapter(ClickHouseAdapter):
    """dbt-clickhouse unchanged (macros, materializations, relations) over an embedded engine."""

    ConnectionManager = ChdbConnectionManager
