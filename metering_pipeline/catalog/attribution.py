"""Attribution in the catalog: which tenant and billing account a source key bills to, and when.

Each entry maps (kind, key) -> (tenant_id, billing_account_id) over a half-open interval
[valid_from, valid_to), so a key moved between accounts at 10:30 bills each account for its
own part of the hour. Small setups list entries here; large ones name a ClickHouse table
with the same columns. Overlapping intervals for one key would make a record's account
ambiguous, so they are refused.
"""

import warnings
from dataclasses import dataclass
from datetime import UTC, datetime

from metering_pipeline.catalog.errors import CatalogError
from metering_pipeline.warehouse.tables import IDENTIFIER

BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)
_TEXT = ("kind", "key", "tenant_id", "billing_account_id")


@dataclass(frozen=True)
class AttributionEntry:
    kind: str
    key: str
    tenant_id: str
    billing_account_id: str
    valid_from: datetime = BEGINNING
    valid_to: datetime | None = None  # None: still valid


@dataclass(frozen=True)
class Attribution:
    entries: tuple[AttributionEntry, ...] = ()
    table: str | None = None  # a ClickHouse table read at ingest, for large setups


def _moment(value, where: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise CatalogError(f"{where}: not an ISO 8601 time: {value!r}") from None
    if not isinstance(value, datetime):
        raise CatalogError(f"{where}: expected a time, got {value!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _entry(raw: dict, index: int) -> AttributionEntry:
    where = f"attribution entry {index}"
    if not isinstance(raw, dict) or any(not isinstance(raw.get(k), str) or not raw[k] for k in _TEXT):
        raise CatalogError(f"{where}: needs non-empty strings {', '.join(_TEXT)}: {raw!r}")
    start = _moment(raw["valid_from"], where) if raw.get("valid_from") is not None else BEGINNING
    end = _moment(raw["valid_to"], where) if raw.get("valid_to") is not None else None
    if end is not None and end <= start:
        raise CatalogError(f"{where} ({raw['kind']} {raw['key']}): valid_to must be after valid_from")
    return AttributionEntry(*(raw[k] for k in _TEXT), start, end)


def overlaps(entries) -> list[str]:
    """Keys whose validity intervals overlap, as 'kind key' strings."""
    found, last_end = [], {}
    for entry in sorted(entries, key=lambda e: (e.kind, e.key, e.valid_from)):
        key = (entry.kind, entry.key)
        if key in last_end and (last_end[key] is None or last_end[key] > entry.valid_from):
            found.append(f"{entry.kind} {entry.key}")
        last_end[key] = entry.valid_to
    return found


def parse_attribution(raw) -> Attribution:
    if raw is None:
        return Attribution()
    if not isinstance(raw, dict) or set(raw) - {"entries", "table"}:
        raise CatalogError("attribution must be a mapping with 'entries' and/or 'table'")
    table = raw.get("table")
    if table is not None and (not isinstance(table, str) or not IDENTIFIER.fullmatch(table)):
        raise CatalogError(f"attribution table must be a plain identifier: {table!r}")
    entries = tuple(_entry(item, i) for i, item in enumerate(raw.get("entries") or []))
    if clashing := overlaps(entries):
        raise CatalogError(f"attribution intervals overlap for: {', '.join(sorted(set(clashing)))}")
    return Attribution(entries, table)


class UnusedAttributionWarning(UserWarning):
    """Attribution entries whose kind no source produces: they can never match a record."""


def unproduced_kinds(attribution: Attribution, produced) -> list[str]:
    """Kinds of `attribution`'s entries that none of `produced` (each source's kinds; None: any) holds."""
    produced = list(produced)
    if any(kinds is None for kinds in produced):
        return []  # a source whose pattern reads any kind could produce every entry's
    known = set().union(*produced) if produced else set()
    return sorted({entry.kind for entry in attribution.entries} - known)


def warn_unproduced_kinds(attribution: Attribution, sources) -> None:
    """Warn (not refuse) about entries of kinds no source produces: such an entry is silently never
    used, and the records meant for it quarantine as unattributed. A warning, because a catalog
    may list an account's entries before its source lands; a typo'd kind shows up here at load."""
    if unused := unproduced_kinds(attribution, (source.attribution_kinds for source in sources)):
        produced = sorted({k for s in sources for k in (s.attribution_kinds or ())})
        warnings.warn(
            f"attribution entries of kind {', '.join(repr(k) for k in unused)} are never used: no source "
            f"produces that kind (sources produce {', '.join(produced) or 'none'})",
            UnusedAttributionWarning,
            stacklevel=3,
        )
