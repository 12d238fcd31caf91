"""Every dropped duplicate on record: which copy of a (source, id) was dropped, which one counted, and
whether the two said the same thing.

The dedup rule lives here, once: of each (source, id) in the hour, the first valid copy by (file,
line, sub) is kept and every later copy is dropped. The dropped copies are named once, in a work
table (`dropped_keys_sql`); the events insert leaves out exactly those rows and the hour's staging
copy of `duplicates` records exactly those, so the two can never disagree about what was dropped.
The hour is never sorted or grouped whole with its data, so memory stays at a hash per event
however large the hour.

A dropped copy is `identical` when it bills the same as the kept copy: the same event type, tenant
and billing account, and for every catalog meter of that type the same value (as the meter reads
it) and the same dimensions. That is the content a duplicate can silently change an invoice by;
the rest may differ without changing a number: a retry re-stamped within the hour, members no
meter reads, or billing-client's Event and record shapes of one usage (their `data` differ by
design). A copy that is not identical is a *conflicting* duplicate: the same id reused for
another quantity, which a producer bug turns into silent under-billing, so it is counted apart
and shown by a WARN check with examples. The dropped copy's own time and data are kept.
"""

from dataclasses import dataclass, field
from datetime import datetime

from metering_pipeline.catalog import Catalog
from metering_pipeline.catalog.sql import meter_value
from metering_pipeline.usage.sql import dimensions_map
from metering_pipeline.warehouse.tables import DUPLICATES, EVENTS

CONTENT = ("type", "tenant_id", "billing_account_id")  # plus what each meter of the type reads: `billed_content`
EXAMPLES = 10  # conflicting duplicates shown in the check's metadata
COLUMNS = (
    "hour, source, id, type, tenant_id, billing_account_id, time, data, source_file, line_no, sub, "
    "kept_file, kept_line_no, kept_sub, identical, loaded_at"
)
# The dropped copies by key while the hour is built: a work table of (row, sub) pairs, so the
# events insert leaves them out by two integers, as cheaply as the inline dedup it replaces.
DROPPED_KEYS = "source String, id String, row UInt64, sub UInt32, kept_row UInt64, kept_sub UInt32"


# Grouping every key of the hour by its hash is the hour's largest hash table (+1.1 GiB at 20M
# events); past this size the engine spills it to disk in sorted runs and merges them.
KEYS_SETTINGS = {"max_bytes_before_external_group_by": 256 << 20}


def _union(branches: list[str], columns: str, condition: str = "") -> str:
    """`columns` of every branch (`FROM <mapped> WHERE <valid>`), each narrowed by `condition`."""
    extra = f" AND {condition}" if condition else ""
    return " UNION ALL ".join(f"SELECT {columns} {branch}{extra}" for branch in branches)


def dropped_keys_sql(branches: list[str], target: str) -> str:
    """INSERT into `target` (DROPPED_KEYS) of every dropped copy's (row, sub) with its kept copy's.

    Only keys whose 64-bit hash repeats are candidates (a collision only adds a candidate); each
    exact (source, id) group is sorted by (row, sub), i.e. by (file name, line, position), and all
    but its first copy are dropped. Only keys and row numbers are read here, never the data.
    """
    keys = _union(branches, "source, id, row, sub")
    repeated = f"SELECT cityHash64(source, id) AS h FROM ({keys}) GROUP BY h HAVING count() > 1"
    groups = (
        f"SELECT source, id, arraySort(groupArray((row, sub))) AS copies FROM ({keys}) "
        f"WHERE cityHash64(source, id) IN ({repeated}) GROUP BY source, id HAVING length(copies) > 1"
    )
    return (
        f"INSERT INTO `{target}` (source, id, row, sub, kept_row, kept_sub) "
        f"SELECT source, id, c.1, c.2, copies[1].1, copies[1].2 FROM ({groups}) ARRAY JOIN arrayPopFront(copies) AS c"
    )


def billed_content(catalog: Catalog) -> tuple[str, dict]:
    """What an event bills, beyond its type, tenant and account: for each catalog meter of its type, the
    value the meter reads and the meter's dimensions (the pipeline's own expressions, usage/sql.py)."""
    parts, params = [], {}
    for index, meter in enumerate(catalog.meters):
        value, value_params = meter_value(meter, "data", f"dup{index}_v")
        dimensions, dimension_params = dimensions_map(meter, index)
        params.update(value_params, **dimension_params, **{f"dup{index}_t": meter.event_type})
        parts.append(f"if(type = {{dup{index}_t:String}}, toString(tuple({value}, {dimensions})), NULL)")
    return f"[{', '.join(parts)}]", params


def dropped_insert_sql(catalog: Catalog, branches: list[str], row_columns: str, keys: str, target: str) -> tuple[str, dict]:
    """INSERT into `target` (a staging copy of `duplicates`) of the copies `keys` names, each beside
    its kept copy, and its parameters. One scan reads the content of just the copies of repeated
    keys (by row number); each key's copies sorted by (row, sub) start with the kept one, as in
    `dropped_keys_sql`."""
    pairs = f"SELECT row, sub FROM `{keys}` UNION ALL SELECT kept_row, kept_sub FROM `{keys}`"
    content = _union(branches, f"row, sub, {row_columns}", f"(row, sub) IN ({pairs})")
    billed, params = billed_content(catalog)
    copy = f"(row, sub, source_file, line_no, tuple({', '.join(CONTENT)}, {billed}), time, data)"
    groups = f"SELECT source, id, arraySort(groupArray({copy})) AS copies FROM ({content}) GROUP BY source, id"
    sql = f"""
        INSERT INTO `{target}` ({COLUMNS})
        SELECT {{hour:DateTime('UTC')}}, source, id, c.5.1, c.5.2, c.5.3, c.6, c.7, c.3, c.4, c.2,
               copies[1].3, copies[1].4, copies[1].2, c.5 = copies[1].5, {{loaded_at:DateTime('UTC')}}
        FROM ({groups}) ARRAY JOIN arrayPopFront(copies) AS c
    """
    return sql, params


def not_dropped(keys: str) -> str:
    """Condition keeping the rows that `keys` (DROPPED_KEYS) does not name as dropped."""
    return f"(row, sub) NOT IN (SELECT row, sub FROM `{keys}`)"


@dataclass
class DuplicateCounts:
    copies: int = 0  # dropped events
    conflicting: int = 0  # dropped events whose content differs from the kept copy
    examples: list[dict] = field(default_factory=list)

    @property
    def identical(self) -> int:
        return self.copies - self.conflicting


def count_dropped(client, staged: str) -> DuplicateCounts:
    copies, conflicting = client.query(f"SELECT count(), countIf(NOT identical) FROM `{staged}`").result_rows[0]
    examples = client.query(
        f"SELECT source, id, tenant_id, source_file, line_no, kept_file, kept_line_no FROM `{staged}` "
        f"WHERE NOT identical ORDER BY source_file, line_no, sub LIMIT {EXAMPLES}"
    ).result_rows
    names = ("source", "id", "tenant_id", "file", "line", "kept_file", "kept_line")
    return DuplicateCounts(int(copies), int(conflicting), [dict(zip(names, row)) for row in examples])


def duplicate_lines_by_file(dropped: str, events: str, where: str = "") -> str:
    """The rule for a duplicate line, as a query of (source_file, lines): a line with a dropped copy in
    `dropped` and no accepted event in `events` (a line with one new event is accepted, not a
    duplicate), both narrowed by `where`.

    Every set looked up is built from `dropped` (a few per cent of the hour) and `events` is only
    streamed past it. Built from `events`, the set held the whole hour (1.4 GiB at 20M events)."""
    at, also = (f" WHERE {where}", f"{where} AND ") if where else ("", "")
    lines = f"SELECT source_file, line_no FROM `{dropped}`{at}"
    accepted = f"SELECT source_file, line_no FROM `{events}` WHERE {also}(source_file, line_no) IN ({lines})"
    return (
        f"SELECT source_file, count() AS lines FROM (SELECT DISTINCT source_file, line_no FROM `{dropped}`{at}) "
        f"WHERE (source_file, line_no) NOT IN ({accepted}) GROUP BY source_file"
    )


def duplicate_lines_on_record(client, hour: datetime) -> int:
    """The hour's duplicate lines as the tables hold them, after the swap (`duplicate_lines_by_file`)."""
    by_file = duplicate_lines_by_file(DUPLICATES, EVENTS, "hour = {hour:DateTime('UTC')}")
    return int(client.command(f"SELECT sum(lines) FROM ({by_file})", parameters={"hour": hour.replace(tzinfo=None)}))
