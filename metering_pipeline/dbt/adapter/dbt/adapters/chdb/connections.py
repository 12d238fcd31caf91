"""A dbt-clickhouse connection whose client is clickhouse-connect's embedded chDB backend.

chDB allows one process per directory. While any dbt connection of this process holds the
directory open, the process holds the pipeline's `engine_lock` on it, so dbt and the
Dagster steps never open the directory at the same time; the last close releases it.
"""

import threading
from contextlib import ExitStack

import clickhouse_connect
from dbt.adapters.clickhouse.connections import ClickHouseConnectionManager
from dbt.adapters.clickhouse.dbclient import ChRetryableException
from dbt.adapters.clickhouse.httpclient import ChHttpClient
from dbt.adapters.clickhouse.logger import logger
from dbt.adapters.exceptions import FailedToConnectError

# A top-level module of the pipeline that imports nothing but the standard library: dbt's process
# takes the same directory lock as the Dagster steps without importing Dagster.
from metering_pipeline.engine_lock import EngineBusyError, engine_lock

_lock_guard = threading.Lock()
_lock_holders = 0
_lock_stack: ExitStack | None = None


def _acquire(path: str, timeout: float) -> None:
    global _lock_holders, _lock_stack
    with _lock_guard:
        if _lock_holders == 0:
            stack = ExitStack()
            stack.enter_context(engine_lock(path, timeout, purpose="dbt"))
            _lock_stack = stack
        _lock_holders += 1


def _release() -> None:
    global _lock_holders, _lock_stack
    with _lock_guard:
        if _lock_holders == 0:
            return
        _lock_holders -= 1
        if _lock_holders == 0 and _lock_stack is not None:
            stack, _lock_stack = _lock_stack, None
            stack.close()


class ChdbClient(ChHttpClient):
    """ChHttpClient's query/command/settings handling over an in-process chDB engine."""

    _holds_lock = False

    def _create_client(self, credentials):
        try:
            _acquire(credentials.path, credentials.lock_timeout_seconds)
        except EngineBusyError as ex:
            # The lock already waited its timeout: a dbt retry would only double the wait.
            raise FailedToConnectError(str(ex)) from ex
        self._holds_lock = True
        try:
            logger.debug("Opening chDB at {}", credentials.path)
            return clickhouse_connect.get_client(interface="chdb", path=credentials.path, query_limit=0, settings=self._conn_settings)
        except Exception:
            self._release_lock()
            raise

    def close(self):
        try:
            client = getattr(self, "_client", None)
            if client is not None:
                client.close()
        finally:
            self._release_lock()

    def _release_lock(self):
        if self._holds_lock:
            self._holds_lock = False
            _release()


class ChdbConnectionManager(ClickHouseConnectionManager):
    TYPE = "chdb"

    @classmethod
    def open(cls, connection):
        if connection.state == "open":
            return connection
        credentials = cls.get_credentials(connection.credentials)
        return cls.retry_connection(
            connection,
            connect=lambda: ChdbClient(credentials),
            logger=logger,
            retry_limit=credentials.retries,
            retryable_exceptions=[ChRetryableException],
        )

    def cancel(self, connection):
        # An in-process engine has nothing to interrupt remotely; closing releases the directory.
        connection.handle.close()
