"""Credentials of the `chdb` target: a directory instead of a host."""

import os
from dataclasses import dataclass

from dbt.adapters.clickhouse.credentials import ClickHouseCredentials

CHDB_SCHEME = "chdb://"


def chdb_directory(path: str) -> str:
    """`/abs/dir` or `chdb:///abs/dir` (METERING_CLICKHOUSE_URL as is) -> absolute directory."""
    if path.startswith(CHDB_SCHEME):
        path = path[len(CHDB_SCHEME) :]
    if not path or path in ("memory", ":memory:"):
        raise ValueError("the chdb target needs a directory (chdb:///abs/dir); an in-memory engine dies with dbt")
    return os.path.abspath(os.path.expanduser(path))


@dataclass
class ChdbCredentials(ClickHouseCredentials):
    """dbt-clickhouse credentials plus the chDB directory and how long to wait for its lock."""

    path: str = ""
    lock_timeout_seconds: float = 600.0

    @property
    def type(self):
        return "chdb"

    @property
    def unique_field(self):
        return self.path

    def __post_init__(self):
        super().__post_init__()
        self.path = chdb_directory(self.path)
        self.host = "chdb"
        self.check_exchange = True

    def _connection_keys(self):
        return ("path", "schema", "lock_timeout_seconds", "use_lw_deletes", "custom_settings")
