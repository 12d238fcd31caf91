"""`metering-pipeline status`: the last hours' state from the run history, as on-call reads it.

Per hour: when it was last ingested and with what lines, when it was last exported and at which
revision (from `export_revisions`, the ledger's own record), and whether it is lagging: never
exported, or ingested again after its last export (usage may have changed and the correction is
not out yet). A step of a single-run backfill covers many hours; its line counts are the whole
step's (every landing source summed), so they are shown only for a step of one hour. `failed` names
each asset whose newest attempt at the hour failed (failures.py), with the error's class: the hour
an on-call engineer has to rerun.
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from metering_pipeline.export.ledger import REVISIONS
from metering_pipeline.observability.history import EXPORT_ASSET, FAILURE, PIPELINE_RUNS

INGEST_ASSET = "accepted_events"
HEADER = ["hour", "ingested_at", "lines_read", "accepted", "duplicates", "quarantined", "exported_at", "revision", "lagging", "failed"]
OUTCOME_COLUMNS = {"accepted": "accepted", "duplicate": "duplicates", "quarantined": "quarantined"}


@dataclass(frozen=True)
class Step:
    asset: str
    first_hour: datetime
    last_hour: datetime
    finished: datetime
    hours: int
    lines: dict[str, int]
    error: str = ""


def _lines(names, labels, values) -> dict[str, int]:
    """The ingest step's line figures by status column, summed over landing sources: lines read and each outcome."""
    found: dict[str, int] = {}
    for name, label, value in zip(names, labels, values):
        if name == "metering_lines_read_total":
            found["lines_read"] = found.get("lines_read", 0) + int(value)
        elif name == "metering_lines_total":
            column = OUTCOME_COLUMNS[json.loads(label)["outcome"]]
            found[column] = found.get(column, 0) + int(value)
    return found


def _steps(client, since: datetime, until: datetime) -> list[Step]:
    """Every asset's steps over the window, oldest first (a failed step of any asset, for `failed`)."""
    has_error = client.command(  # a history from before failures were recorded has no `error`; read-only, so not added here
        "SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = {t:String} AND name = 'error'",
        parameters={"t": PIPELINE_RUNS},
    )
    failed = "if(error = '', {failure:String}, error)" if has_error else "{failure:String}"
    rows = client.query(
        "SELECT asset, first_hour, last_hour, finished, hours, "
        f"if(outcome = {{failure:String}}, {failed}, ''), "
        f"figures.metric, figures.labels, figures.value FROM `{PIPELINE_RUNS}` "
        "WHERE last_hour >= {since:DateTime('UTC')} AND first_hour < {until:DateTime('UTC')} ORDER BY finished",
        parameters={"failure": FAILURE, "since": since.replace(tzinfo=None), "until": until.replace(tzinfo=None)},
    ).result_rows
    return [Step(a, first, last, finished, hours, _lines(*figures), error) for a, first, last, finished, hours, error, *figures in rows]


def _failed(covering: list[Step]) -> str:
    """The assets whose newest step covering the hour failed, with the error class: `asset(Error)`."""
    newest = {s.asset: s for s in covering}  # oldest first, so the newest per asset wins
    return " ".join(f"{a}({s.error})" for a, s in sorted(newest.items()) if s.error)


def _revisions(client, since: datetime, until: datetime) -> dict[datetime, int]:
    if not client.command(f"EXISTS TABLE `{REVISIONS}`"):
        return {}
    rows = client.query(
        f"SELECT hour, max(revision) FROM `{REVISIONS}` WHERE hour >= {{since:DateTime('UTC')}} AND hour < {{until:DateTime('UTC')}} "
        "GROUP BY hour",
        parameters={"since": since.replace(tzinfo=None), "until": until.replace(tzinfo=None)},
    ).result_rows
    return {hour.replace(tzinfo=None): int(rev) for hour, rev in rows}


def _at(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def status_rows(client, since: datetime, until: datetime) -> list[tuple]:
    """One row per hour in [since, until), newest first, in HEADER's order."""
    steps = _steps(client, since, until) if client.command(f"EXISTS TABLE `{PIPELINE_RUNS}`") else []  # read-only: never creates
    revisions = _revisions(client, since, until)
    rows = []
    hour = until.replace(tzinfo=None) - timedelta(hours=1)
    while hour >= since.replace(tzinfo=None):
        covering = [s for s in steps if s.first_hour.replace(tzinfo=None) <= hour <= s.last_hour.replace(tzinfo=None)]
        ingest = next((s for s in reversed(covering) if s.asset == INGEST_ASSET and not s.error), None)
        export = next((s for s in reversed(covering) if s.asset == EXPORT_ASSET and not s.error), None)
        lines = ingest.lines if ingest and ingest.hours == 1 else {}
        lagging = export is None or (ingest is not None and ingest.finished > export.finished)
        rows.append(
            (
                hour.strftime("%Y-%m-%d %H:00"),
                _at(ingest.finished if ingest else None),
                *(lines.get(k, "") for k in ("lines_read", "accepted", "duplicates", "quarantined")),
                _at(export.finished if export else None),
                revisions.get(hour, ""),
                "yes" if lagging else "no",
                _failed(covering),
            )
        )
        hour -= timedelta(hours=1)
    return rows
