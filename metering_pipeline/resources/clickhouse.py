"""ClickHouse through one code path, clickhouse-connect, for both the embedded engine and servers.

`chdb:///abs/dir` opens an in-process engine (chDB) guarded by the directory lock and
held only while a step works; `http(s)://user:pass@host:port` talks to a server, with a
small retry policy on connect (`_connect_server`). Credentials never reach logs or error messages.
"""

import math
import time
from contextlib import contextmanager
from urllib.parse import urlsplit

import clickhouse_connect
import dagster as dg
from clickhouse_connect.driver.exceptions import OperationalError
from pydantic import Field
from urllib3.util import Timeout

from metering_pipeline.engine_lock import engine_lock
from metering_pipeline.warehouse.tables import IDENTIFIER
from metering_pipeline.warehouse.topology import cluster_of, in_process, on_cluster, with_cluster

CONNECT_ATTEMPTS = 4
# An hour streams through INSERT ... SELECT in blocks of this size instead of the default
# 256 MiB squash per insert thread: the 5M-event hour's mapping peak drops by about half.
INSERT_BLOCK_BYTES = 32 << 20


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
    connect_timeout_seconds: float = Field(
        default=10.0,
        description="Server only: TCP connect, and the answer to the connect handshake (a server that "
        "accepts but never answers fails the attempt after this long)",
    )
    connect_attempts: int = Field(default=CONNECT_ATTEMPTS, gt=0, description="Server only: connect attempts before failing")
    connect_backoff_seconds: float = Field(default=1.0, ge=0, description="Server only: wait after the first failed attempt; doubles")
    query_timeout_seconds: float = Field(default=300.0, gt=0, description="Server only: read timeout of every statement")
    cluster: str = Field(default="", description="Server only: the cluster whose nodes read an S3 landing zone (s3Cluster)")
    s3_collection: str = Field(
        default="", description="Server only: a named collection on the server holding the landing zone's S3 credentials"
    )

    @property
    def is_embedded(self) -> bool:
        return embedded_path(self.url) is not None

    @contextmanager
    def get_client(self, purpose: str = "metering-pipeline", read_only: bool = False):
        """A client on the pipeline's database. `read_only` (the reporting commands: usage, status,
        explain, reconcile) neither creates the database nor changes a setting, so a server user
        with `readonly = 1` (an analyst's or on-call's) can run them."""
        if not IDENTIFIER.fullmatch(self.database):
            raise ValueError(f"METERING_DATABASE must be a plain identifier, got {self.database!r}")
        if self.cluster and not IDENTIFIER.fullmatch(self.cluster):
            raise ValueError(f"METERING_CLICKHOUSE_CLUSTER must be a plain identifier, got {self.cluster!r}")
        path = embedded_path(self.url)
        if path is None:
            client = with_cluster(self._connect_server(), self.cluster)
            yield from self._session(client, read_only)
            return
        with engine_lock(path, self.lock_timeout_seconds, purpose):
            client = in_process(clickhouse_connect.get_client(dsn=f"chdb://{path}"))
            yield from self._session(client, read_only)

    def _session(self, client, read_only: bool):
        try:
            exists = "SELECT count() FROM system.databases WHERE name = {db:String}"
            if read_only and not client.command(exists, parameters={"db": self.database}):
                raise ValueError(f"database {self.database} does not exist yet: run the pipeline for some hours first")
            if not read_only:
                client.command(
                    f"CREATE DATABASE IF NOT EXISTS {{db:Identifier}}{on_cluster(cluster_of(client))}", parameters={"db": self.database}
                )
                client.set_client_setting("min_insert_block_size_bytes", str(INSERT_BLOCK_BYTES))
            client.database = self.database
            yield client
        finally:
            client.close()

    def _connect_server(self):
        """Connect with `connect_attempts` tries, waiting 1 s, 2 s, 4 s... (connect_backoff_seconds, doubling) between them.

        The handshake (clickhouse-connect's first query) gets connect_timeout_seconds to answer,
        not the 300 s statements get: a server that accepts connections but never answers
        fails each attempt in seconds instead of holding the step for attempts x 5 minutes.
        """
        handshake = max(1, math.ceil(self.connect_timeout_seconds))  # clickhouse-connect takes whole seconds
        delay = self.connect_backoff_seconds
        for attempt in range(1, self.connect_attempts + 1):
            try:
                client = clickhouse_connect.get_client(
                    dsn=self.url,
                    connect_timeout=handshake,
                    send_receive_timeout=handshake,
                    autogenerate_session_id=False,
                )
                client.timeout = Timeout(connect=self.connect_timeout_seconds, read=self.query_timeout_seconds)
                return client
            except OperationalError as exc:
                if attempt == self.connect_attempts:
                    raise ClickHouseUnavailable(
                        f"ClickHouse at {redact(self.url, self.url)} unreachable after {attempt} attempts: {redact(str(exc), self.url)}"
                    ) from None
                time.sleep(delay)
                delay *= 2
