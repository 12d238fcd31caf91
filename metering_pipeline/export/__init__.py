"""Billing export: per-hour NDJSON usage records to S3 (or a local directory), idempotent, corrections as revisions.

    grain.py    hourly or quarter-hour windows (METERING_EXPORT_GRAIN): what each grain reads and where it keeps its ledger
    amounts.py  exact quantities, usage keys and amounts, corrections as deltas
    records.py  records and their deterministic ids, serialized as NDJSON lines
    layout.py   where keys go under the export root
    chunks.py   a revision's records -> objects within the record and byte limits
    ledger.py   the ClickHouse ledger: DDL, reads, the commit of a revision and its repair
    store.py    what the store holds for an hour: manifests, data objects, the sweep, exported keys
    retry.py    bounded retries for S3 calls (used by resources/export_store.py)
    hour.py     one hour's export, in order: plan, write, commit, manifest
    checks.py   the asset checks, re-deriving their facts independently
    assets.py   the `billing_export` asset

Readers must start from `_manifests/`: a manifest is written only after all of its
revision's objects are written and recorded, and lists them; an object no manifest lists
is not part of the export.

Dependencies point one way: the asset depends on the resource (resources/export_store.py),
which uses this package's pure modules (chunks, retry). So this package's `__init__` names
no asset: import `billing_export` from `metering_pipeline.export.assets`.
"""

from metering_pipeline.export.store import exported_keys

__all__ = ["exported_keys"]
