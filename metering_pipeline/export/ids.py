"""Deterministic UUIDv5 ids: the same inputs give the same id on every run and every retry.

Names are canonical JSON arrays (a type tag first), so no choice of separator inside a
tenant, meter or dimension value can make two different inputs collide. NAMESPACE is
uuid5(NAMESPACE_URL, "urn:metering-pipeline:billing-export") and must never change:
downstream systems deduplicate on these ids.
"""

import json
import uuid

NAMESPACE = uuid.UUID("a3a1ab43-d91e-5f79-8ef0-747bfa9a32ac")


def _uuid5(*parts) -> str:
    name = json.dumps(list(parts), ensure_ascii=False, separators=(",", ":"))
    return str(uuid.uuid5(NAMESPACE, name))


def object_id(partition_key: str, meter: str, revision: int, chunk_index: int) -> str:
    return _uuid5("object", partition_key, meter, int(revision), int(chunk_index))


def record_id(tenant_id: str, billing_account_id: str, meter: str, dimensions: dict, window_start: str, revision: int) -> str:
    """Id of one record; `dimensions` enter sorted by name, `window_start` as its RFC 3339 text."""
    return _uuid5("record", tenant_id, billing_account_id, meter, sorted(dimensions.items()), window_start, int(revision))
