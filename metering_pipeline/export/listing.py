"""The keys an export holds for some hours, from the ledger: for the demo and for operators."""

from metering_pipeline.export.hour import window_of
from metering_pipeline.export.layout import manifest_key
from metering_pipeline.export.ledger import committed_revisions, ensure_ledger, ledger_rows


def exported_keys(clickhouse, partition_keys, export_store=None) -> list[str]:
    """Object keys then manifest keys of every committed revision, per partition in order.

    Keys are relative to the export root; pass the ExportStore to get full locations
    (`s3://bucket/prefix/...` or absolute local paths).
    """
    keys: list[str] = []
    with clickhouse.get_client(purpose="export listing") as client:
        ensure_ledger(client)
        for partition_key in partition_keys:
            start = window_of(partition_key).start
            rows = ledger_rows(client, start)
            first = {}
            for row in rows:
                first.setdefault(row.object_key, row.revision)
            keys += sorted(first, key=lambda k: (first[k], k))
            keys += [manifest_key(start, revision) for revision in sorted(committed_revisions(client, start))]
    if export_store is None:
        return keys
    store = export_store.open()
    return [store.location(key) for key in keys]
