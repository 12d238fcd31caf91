"""Every catalog an export ran under, kept by digest, so a record's `catalog_hash` can be turned back
into the meter definitions that made it (a catalog file is edited in place; its old text is gone).

Recorded by the export, the step that stamps the digest on records. ReplacingMergeTree on the
digest: recording the same catalog again changes nothing.
"""

import json
from datetime import UTC, datetime

from metering_pipeline.catalog import Catalog, parse_catalog
from metering_pipeline.warehouse.tables import create_table

CATALOG_VERSIONS = "catalog_versions"


def ensure_catalog_versions(client) -> None:
    create_table(
        client,
        CATALOG_VERSIONS,
        "digest String, document String COMMENT 'canonical JSON of the catalog, the text the digest hashes', recorded_at DateTime('UTC')",
        "ReplacingMergeTree ORDER BY digest",
    )


def record_catalog(client, catalog: Catalog) -> None:
    if not catalog.document:
        return
    ensure_catalog_versions(client)
    known = client.command(f"SELECT count() FROM `{CATALOG_VERSIONS}` WHERE digest = {{d:String}}", parameters={"d": catalog.digest})
    if not known:
        now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
        client.insert(CATALOG_VERSIONS, [[catalog.digest, catalog.document, now]], column_names=["digest", "document", "recorded_at"])


def catalog_at(client, digest: str) -> Catalog | None:
    """The catalog recorded under `digest`, or None if it was never recorded (exports before this table).

    Only reads: explaining a record never creates a table."""
    if not client.command("EXISTS TABLE {t:Identifier}", parameters={"t": CATALOG_VERSIONS}):
        return None
    rows = client.query(
        f"SELECT document FROM `{CATALOG_VERSIONS}` FINAL WHERE digest = {{d:String}} LIMIT 1", parameters={"d": digest}
    ).result_rows
    return parse_catalog(json.loads(rows[0][0])) if rows else None
