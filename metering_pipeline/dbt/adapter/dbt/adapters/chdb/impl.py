from dbt.adapters.chdb.connections import ChdbConnectionManager
from dbt.adapters.clickhouse.impl import ClickHouseAdapter


class ChdbAdapter(ClickHouseAdapter):
    """dbt-clickhouse unchanged (macros, materializations, relations) over an embedded engine."""

    ConnectionManager = ChdbConnectionManager
