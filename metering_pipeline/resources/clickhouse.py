"""ClickHouse through one code path, clickhouse-connect, for both the embedded engine and servers.

`chdb:///abs/dir` opens an in-process engine (chDB) guarded by the directory lock and
held only while a step works; `http(s)://user:pass@host:port` talks to a server, with a
small retry policy on connect. Credentials never reach logs or error messages.
"""

import re
import time
from contextlib import contextmanager
from urllib.parse import urlsplit

import clickhouse_connect
import dagster as dg
from clickhouse_connect.driver.exceptions import OperationalError
from pydantic import Field

from metering_pipeline.resources.engine_lock import engine_lock

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
CONNECT_ATTEMPTS = 4


class ClickHouseUnavailable(RuntimeError):
    """The ClickHouse server could not be reached after the documented retries."""


def redact(text: str, url: str) -> str:
    """Remove the URL's password from a message before it can be logged or raised."""
    password = urlsplit(url).password
    return text.replace(password, "***") if password else text


def embedded_path(url: str) -> str | None:
    """The chDB directory for a `chdb://` URL, or None for a server URL."""
    parts = urlsplit(url)
    if parts.scheme == "chdb":
        return parts.path or None
    if parts.scheme in ("http", "https"):
        return None
    raise ValueError(f"METERING_CLICKHOUSE_URL must be chdb:///abs/dir or http(s)://…, got scheme {parts.scheme!r}")


class ClickHouseResource(dg.ConfigurableResource):
    """The warehouse: embedded chDB by default, a ClickHouse server or Cloud in production."""

    url: str = Field(description="chdb:///abs/dir or http(s)://user:pass@host:port")
    database: str = Field(default="metering", description="Database holding the pipeline's tables")
    lock_timeout_seconds: float = Field(default=600.0, description="Wait for an embedded directory held elsewhere")
    connect_timeout_seconds: float = Field(default=10.0)

    @property
    def is_embedded(self) -> bool:
        return embedded_path(self.url) is not None

    @contextmanager
    def get_client(self, purpose: str = "metering-pipeline"):
        if not _IDENTIFIER.match(self.database):
            raise ValueError(f"METERING_DATABASE must be a plain identifier, got {self.database!r}")
        path = embedded_path(self.url)
        if path is None:
            client = self._connect_server()
            yield from self._session(client)
            return
        with engine_lock(path, self.lock_timeout_seconds, purpose):
            client = clickhouse_connect.get_client(dsn=f"chdb://{path}")
            yield from self._session(client)

    def _session(self, client):
        try:
            client.command("CREATE DATABASE IF NOT EXISTS {db:Identifier}", parameters={"db": self.database})
            client.database = self.database
            yield client
        finally:
            client.close()

    def _connect_server(self):
        delay = 1.0
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            try:
                return clickhouse_connect.get_client(
                    dsn=self.url, connect_timeout=self.connect_timeout_seconds, autogenerate_session_id=False
                )
            except OperationalError as exc:
                if attempt == CONNECT_ATTEMPTS:
                    raise ClickHouseUnavailable(
                        f"ClickHouse at {redact(self.url, self.url)} unreachable after {attempt} attempts: "
                        f"{redact(str(exc), self.url)}"
                    ) from None
                time.sleep(delay)
                delay *= 2
