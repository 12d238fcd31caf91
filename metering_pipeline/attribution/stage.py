"""The attribution an hour joins against: the catalog's entries plus the configured ClickHouse table.

Both go into one staging table with a closed valid_to, so attribution is one ASOF JOIN:
the entry with the latest valid_from at or before the record's own time, kept only if that
time is before its valid_to (half-open intervals). Overlaps are refused here as well as at
catalog load, because a large table is only seen at ingest.
"""

from datetime import datetime

from metering_pipeline.catalog import Attribution
from metering_pipeline.warehouse.tables import create_table

ATTRIBUTION_TABLE_COLUMNS = (
    "kind String, key String, tenant_id String, billing_account_id String, "
    "valid_from DateTime64(6, 'UTC'), valid_to Nullable(DateTime64(6, 'UTC')) COMMENT 'NULL: still valid'"
)
_STAGED_COLUMNS = ATTRIBUTION_TABLE_COLUMNS.split(", valid_to")[0] + ", valid_to DateTime64(6, 'UTC')"
OPEN_END = datetime(2299, 12, 31, 23, 59, 59, 999999)
_NAMES = ["kind", "key", "tenant_id", "billing_account_id", "valid_from", "valid_to"]
_OVERLAPS = """
    SELECT kind, key FROM (
        SELECT kind, key, valid_from, valid_to,
               row_number() OVER w AS n, lagInFrame(valid_to) OVER w AS previous_to
        FROM `{staged}`
        WINDOW w AS (PARTITION BY kind, key ORDER BY valid_from, valid_to ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
    )
    WHERE (n > 1 AND previous_to > valid_from) OR valid_to <= valid_from
    GROUP BY kind, key ORDER BY kind, key LIMIT 10
"""


class AttributionError(RuntimeError):
    """The attribution table is ambiguous; the message names the keys."""


def ensure_attribution_table(client, name: str) -> None:
    """`name` is the catalog's attribution table, a checked identifier (catalog/attribution.py)."""
    create_table(client, name, ATTRIBUTION_TABLE_COLUMNS, "MergeTree ORDER BY (kind, key, valid_from)")


def stage_attribution(client, area, attribution: Attribution, window: tuple[datetime, datetime]) -> str:
    """A staging table of the entries valid at some moment of `window` [start, end), checked for overlaps.

    Records outside the window are quarantined as wrong_partition whatever their attribution,
    so a large table costs only the entries the hour can use.
    """
    start, end = (_naive(moment) for moment in window)
    staged = area.table("attribution", _STAGED_COLUMNS)
    rows = [
        [e.kind, e.key, e.tenant_id, e.billing_account_id, _naive(e.valid_from), _naive(e.valid_to) or OPEN_END]
        for e in attribution.entries
    ]
    rows = [row for row in rows if row[4] < end and row[5] > start]
    if rows:
        client.insert(staged, rows, column_names=_NAMES)
    if attribution.table:
        ensure_attribution_table(client, attribution.table)
        client.command(
            f"INSERT INTO `{staged}` SELECT kind, key, tenant_id, billing_account_id, valid_from, "
            f"ifNull(valid_to, {{open_end:DateTime64(6, 'UTC')}}) FROM {{table:Identifier}} "
            "WHERE kind != '' AND key != '' AND valid_from < {end:DateTime64(6, 'UTC')} "
            "AND (valid_to IS NULL OR valid_to > {start:DateTime64(6, 'UTC')})",
            parameters={"table": attribution.table, "open_end": OPEN_END, "start": start, "end": end},
        )
    clashing = client.query(_OVERLAPS.format(staged=staged)).result_rows
    if clashing:
        keys = ", ".join(f"{kind} {key}" for kind, key in clashing)
        raise AttributionError(f"attribution intervals overlap or are empty for: {keys}")
    return staged


def join_attribution(staged: str) -> tuple[str, str]:
    """(JOIN clause, condition that the record is attributed) for rows `m` with join_kind/join_key/join_time."""
    join = f"ASOF LEFT JOIN `{staged}` AS a ON m.join_kind = a.kind AND m.join_key = a.key AND m.join_time >= a.valid_from"
    return join, "(m.join_key != '' AND a.kind != '' AND m.join_time < a.valid_to)"


def _naive(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=None) if moment else None
