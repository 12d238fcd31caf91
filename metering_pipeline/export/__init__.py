"""Billing export: per-hour NDJSON usage records to S3 (or a local directory), idempotent, corrections as revisions.

Layout (layout.py), ids (ids.py), quantities (quantity.py), records (records.py), deltas
and what a correction means (delta.py), chunking (chunks.py), the ClickHouse ledger
(ledger.py), manifests (manifest.py), the store inventory (inventory.py), one hour's
export (hour.py), checks (checks.py) and the asset (assets.py).

Readers must start from `_manifests/`: a manifest is written only after all of its
revision's objects are written and recorded, and lists them; an object no manifest lists
is not part of the export.
"""

__all__ = ["BILLING_EXPORT", "billing_export", "exported_keys"]


def __getattr__(name: str):
    # Lazy, so the resource (resources/export_store.py) can import this package's pure modules
    # (retry, chunks) without importing the asset, which imports the resource: no import cycle.
    if name in ("BILLING_EXPORT", "billing_export"):
        from metering_pipeline.export import assets
        return getattr(assets, name)
    if name == "exported_keys":
        from metering_pipeline.export.listing import exported_keys
        return exported_keys
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

