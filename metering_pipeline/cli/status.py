"""`metering-pipeline status`: the last hours' state from the run history, as on-call reads it.

Per hour: when it was last ingested and with what lines, when it was last exported and at which
revision (from `export_revisions`, the ledger's own record), and whether it is lagging: never
exported, or ingested again after its last export (usage may have changed and the correction is
not out yet). A step of a single-run backfill covers many hours; its line counts are the whole
step's, so they are shown only for a step of one hour.
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from metering_pipeline.export.ledger import REVISIONS
from metering_pipeline.observability.history import EXPORT_ASSET, PIPELINE_RUNS

INGEST_ASSET = "accepted_events"
HEADER = ["hour", "ingested_at", "lines_read", "accepted", "duplicates", "quarantined", "exported_at", "revision", "lagging"]
OUTCOME_COLUMNS = {"accepted": "accepted", "duplicate": "duplicates", "quarantined": "quarantined"}


@dataclass(frozen=True)
class Step:
    asset: str
    first_hour: datetime
    last_hour: datetime
    finished: datetime
    hours: int
    lines: dict[str, int]


def _lines(names, labels, values) -> dict[str, int]:
    """The ingest step's line figures by status column: lines read and each outcome."""
    found = {}
    for name, label, value in zip(names, labels, values):
        if name == "metering_lines_read_total":
            found["lines_read"] = int(value)
        elif name == "metering_lines_total":
            outcome = json.loads(label)["outcome"]
            found[OUTCOME_COLUMNS[outcome]] = int(value)
    return found


def _steps(client, since: datetime, until: datetime) -> list[Step]:
    rows = client.query(
        f"SELECT asset, first_hour, last_hour, finished, hours, figures.metric, figures.labels, figures.value FROM `{PIPELINE_RUNS}` "
        "WHERE asset IN {assets:Array(String)} AND last_hour >= {since:DateTime('UTC')} AND first_hour < {until:DateTime('UTC')} "
        "ORDER BY finished",
        parameters={"assets": [INGEST_ASSET, EXPORT_ASSET], "since": since.replace(tzinfo=None), "until": until.replace(tzinfo=None)},
    ).result_rows
    return [Step(asset, first, last, finished, hours, _lines(*figures)) for asset, first, last, finished, hours, *figures in rows]


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
        ingest = next((s for s in reversed(covering) if s.asset == INGEST_ASSET), None)
        export = next((s for s in reversed(covering) if s.asset == EXPORT_ASSET), None)
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
            )
        )
        hour -= timedelta(hours=1)
    return rows
