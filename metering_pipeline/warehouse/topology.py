"""Where the pipeline's tables live: one engine (chDB, a single server) or a ClickHouse cluster.

With `METERING_CLICKHOUSE_CLUSTER` set, the tables the pipeline keeps are created `ON CLUSTER`
with Replicated engines, and every hour's `REPLACE PARTITION` is preceded by `SYSTEM SYNC
REPLICA ... LIGHTWEIGHT`: a replica that has not fetched all parts of the table copies only
the parts it has (ClickHouse issue 73697), so the swap waits until it has them. Work tables
(warehouse/staging.py) stay local to the node the step's session is on: they live for one
step, and REPLACE PARTITION from a local MergeTree into a Replicated one replicates the new
parts through the replication log.

The cluster rides on the client the resource opens (`with_cluster`), so every function that
is handed a client emits the statements of its deployment without a parameter of its own.
"""

_ATTRIBUTE = "metering_cluster"
_IN_PROCESS = "metering_in_process"
_MERGE_TREES = ("MergeTree", "ReplacingMergeTree", "SummingMergeTree", "AggregatingMergeTree")


def with_cluster(client, cluster: str):
    setattr(client, _ATTRIBUTE, cluster)
    return client


def cluster_of(client) -> str:
    return getattr(client, _ATTRIBUTE, "") or ""


def in_process(client):
    """Mark a client whose engine runs inside this process (chDB): its memory is the pipeline's own."""
    setattr(client, _IN_PROCESS, True)
    return client


def release_memory(client) -> None:
    """Hand the memory the embedded engine's allocator keeps after a large statement back to the
    system, so the next one starts from the process's working set instead of on top of the last
    one's high-water mark (the 5M hour's ingest kept ~1 GiB it no longer used between statements).
    A server's memory is its own business: nothing is sent there (the statement needs SYSTEM rights)."""
    if getattr(client, _IN_PROCESS, False):
        client.command("SYSTEM JEMALLOC PURGE")


def on_cluster(cluster: str) -> str:
    return f" ON CLUSTER `{cluster}`" if cluster else ""


def replicated(engine: str, cluster: str) -> str:
    """`engine`, Replicated on a cluster: replica paths come from the server's default_replica_path/name."""
    if cluster and engine.startswith(_MERGE_TREES):
        return f"Replicated{engine}"
    return engine


def sync_replica(table: str) -> str:
    return f"SYSTEM SYNC REPLICA `{table}` LIGHTWEIGHT"


def dedup_token(client, token: str) -> dict:
    """Settings for an insert into a replicated table that a retry may repeat: the retry is dropped, not doubled,
    and a different insert of identical rows is not dropped (its token differs). Nothing on one engine."""
    return {"insert_deduplication_token": token} if cluster_of(client) else {}
