"""The reconciliation report for billing teams: per UTC hour and landing source, what landed, what
was read, and what became of every line, next to what the hour exported.

Every figure is counted from the tables themselves (never from run metadata), so it ties out:
`lines_read` (counted as the files were read, `landed_files`) must equal `accepted` (distinct
lines in `events`) + `duplicates` (lines in `duplicates` with no accepted event) + `quarantined`
(rows of `quarantine`); `unaccounted` is the difference and is 0 in a sound hour. Exported
records and revisions are the hour's (the export is per tenant and meter, not per source), so
they repeat on each source row of the hour. The dbt mart `hourly_reconciliation` computes the
same figures; a test holds the two equal.
"""

from datetime import datetime

from metering_pipeline.export.ledger import REVISIONS
from metering_pipeline.warehouse.tables import DUPLICATES, EVENTS, LANDED_FILES, QUARANTINE

WINDOW = "hour >= {since:DateTime('UTC')} AND hour < {until:DateTime('UTC')}"
LANDING_SOURCE = "splitByChar('/', source_file)[1]"  # a file's name starts with its landing source's folder
COLUMNS = (
    "hour",
    "landing_source",
    "files",
    "bytes",
    "lines_read",
    "accepted",
    "duplicates",
    "duplicates_identical",
    "duplicates_conflicting",
    "quarantined",
    "quarantined_by_reason",
    "events",
    "exported_records",
    "revisions",
    "unaccounted",
)


def reconcile_sql(exported: bool) -> str:
    """The report's SELECT; `exported` says whether export_revisions exists yet. Records are counted
    from each committed revision's `records` (the ledger rows it committed)."""
    accepted_lines = f"SELECT hour, source_file, line_no FROM `{EVENTS}` WHERE {WINDOW}"
    revisions = (
        f"SELECT hour, sum(records) AS exported_records, count() AS revisions FROM `{REVISIONS}` FINAL WHERE {WINDOW} GROUP BY hour"
        if exported
        else "SELECT toDateTime(0, 'UTC') AS hour, toUInt64(0) AS exported_records, toUInt64(0) AS revisions WHERE 0"
    )
    return f"""
        WITH
        files AS (
            SELECT hour, landing_source, count() AS files, sum(bytes) AS bytes, sum(lines_read) AS lines_read
            FROM `{LANDED_FILES}` WHERE {WINDOW} GROUP BY hour, landing_source
        ),
        accepted AS (
            SELECT hour, {LANDING_SOURCE} AS landing_source, uniqExact(source_file, line_no) AS accepted, count() AS events
            FROM `{EVENTS}` WHERE {WINDOW} GROUP BY hour, landing_source
        ),
        dropped AS (
            SELECT hour, {LANDING_SOURCE} AS landing_source,
                   uniqExactIf((source_file, line_no), (hour, source_file, line_no) NOT IN (
                       {accepted_lines} AND source_file IN (SELECT source_file FROM `{DUPLICATES}` WHERE {WINDOW})
                   )) AS duplicates,
                   countIf(identical) AS duplicates_identical, countIf(NOT identical) AS duplicates_conflicting
            FROM `{DUPLICATES}` WHERE {WINDOW} GROUP BY hour, landing_source
        ),
        quarantined AS (
            SELECT hour, landing_source, sum(n) AS quarantined, mapFromArrays(groupArray(reason), groupArray(n)) AS quarantined_by_reason
            FROM (
                SELECT hour, toString(landing_source) AS landing_source, toString(reason) AS reason, count() AS n
                FROM `{QUARANTINE}` WHERE {WINDOW} GROUP BY hour, landing_source, reason ORDER BY reason
            )
            GROUP BY hour, landing_source
        ),
        exported AS ({revisions})
        SELECT f.hour AS hour, toString(f.landing_source) AS landing_source, f.files, f.bytes, f.lines_read,
               a.accepted, d.duplicates, d.duplicates_identical, d.duplicates_conflicting,
               q.quarantined, q.quarantined_by_reason, a.events, x.exported_records, x.revisions,
               toInt64(f.lines_read) - toInt64(a.accepted) - toInt64(d.duplicates) - toInt64(q.quarantined) AS unaccounted
        FROM files AS f
        LEFT JOIN accepted AS a ON a.hour = f.hour AND a.landing_source = f.landing_source
        LEFT JOIN dropped AS d ON d.hour = f.hour AND d.landing_source = f.landing_source
        LEFT JOIN quarantined AS q ON q.hour = f.hour AND q.landing_source = f.landing_source
        LEFT JOIN exported AS x ON x.hour = f.hour
        ORDER BY hour, landing_source
    """


def reconcile_rows(client, since: datetime, until: datetime) -> list[dict]:
    """The report's rows, one per (hour, landing source) that had files, as dicts keyed by COLUMNS."""
    exists = {
        table: bool(client.command("EXISTS TABLE {t:Identifier}", parameters={"t": table}))
        for table in (LANDED_FILES, EVENTS, DUPLICATES, QUARANTINE, REVISIONS)
    }
    if not all(exists[t] for t in (LANDED_FILES, EVENTS, DUPLICATES, QUARANTINE)):
        raise ValueError("the ingest tables do not exist yet: run the pipeline for some hours first")
    params = {"since": since.replace(tzinfo=None), "until": until.replace(tzinfo=None)}
    result = client.query(reconcile_sql(exists[REVISIONS]), parameters=params)
    return [dict(zip(COLUMNS, row)) for row in result.result_rows]
