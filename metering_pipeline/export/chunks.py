"""A revision's records -> objects: per meter, in record order, at most N records and B bytes each.

Chunk boundaries depend only on the records and the limits, and object ids only on
(partition key, meter, revision, chunk index, and the window when it is shorter than the
hour), so a retry writes the same bytes to the same keys. A single record larger than the byte limit cannot be exported and fails loudly.
"""

import hashlib
from dataclasses import dataclass
from itertools import groupby

from metering_pipeline.export.amounts import total
from metering_pipeline.export.layout import object_key
from metering_pipeline.export.records import Record, Window, object_id, window_extent


class RecordTooLarge(ValueError):
    """One serialized record is over the per-object byte limit."""


@dataclass(frozen=True)
class Limits:
    max_records: int = 50
    max_bytes: int = 2_000_000


@dataclass(frozen=True)
class PlannedObject:
    key: str
    meter: str
    records: tuple[Record, ...]
    body: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def quantity_sum(self):
        return total(r.amount.quantity for r in self.records)


def chunk(lines: list[bytes], limits: Limits) -> list[list[int]]:
    """Indexes of `lines` per chunk, greedy, in order."""
    chunks: list[list[int]] = []
    current: list[int] = []
    size = 0
    for index, line in enumerate(lines):
        if len(line) > limits.max_bytes:
            raise RecordTooLarge(f"record {index} is {len(line)} bytes, over the {limits.max_bytes}-byte object limit")
        if current and (len(current) == limits.max_records or size + len(line) > limits.max_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append(index)
        size += len(line)
    if current:
        chunks.append(current)
    return chunks


def plan_objects(
    records: list[Record], window: Window, revision: int, limits: Limits, drafts: frozenset[str] = frozenset()
) -> list[PlannedObject]:
    planned = []
    for meter, group in groupby(sorted(records, key=lambda r: r.key), key=lambda r: r.key.meter):
        group = list(group)
        lines = [r.line() for r in group]
        for index, members in enumerate(chunk(lines, limits)):
            oid = object_id(window.partition_key, meter, revision, index, window_extent(window))
            key = object_key(meter, window.start, oid, meter in drafts)
            body = b"".join(lines[i] for i in members)
            planned.append(PlannedObject(key, meter, tuple(group[i] for i in members), body))
    return planned
