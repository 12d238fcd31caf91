"""`metering-pipeline reconcile`: per hour and landing source, every line read tied to its outcome."""

import csv
import io
import json

from metering_pipeline.cli.render import cell
from metering_pipeline.cli.usage import parse_moment
from metering_pipeline.provenance.reconcile import COLUMNS, reconcile_rows


def add_command(commands) -> None:
    parser = commands.add_parser("reconcile", help="per hour and source: files, lines, accepted, duplicates, quarantined, exported")
    parser.add_argument("--since", required=True, help="UTC start, inclusive (2026-11-22 or 2026-11-22T10:00)")
    parser.add_argument("--until", required=True, help="UTC end, exclusive")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")


def _text(name: str, value) -> str:
    if name == "quarantined_by_reason":
        return ";".join(f"{reason}={count}" for reason, count in sorted(value.items())) or "-"
    return cell(value)


def run_reconcile(args, clickhouse) -> tuple[str, bool]:
    """(the report, whether every row ties out)."""
    since, until = parse_moment(args.since), parse_moment(args.until)
    if until <= since:
        raise ValueError("--until must be after --since")
    with clickhouse.get_client(purpose="metering-pipeline reconcile", read_only=True) as client:
        rows = reconcile_rows(client, since, until)
    sound = all(row["unaccounted"] == 0 for row in rows)
    if args.format == "json":
        return json.dumps([{k: (v if k == "quarantined_by_reason" else _text(k, v)) for k, v in r.items()} for r in rows], indent=2), sound
    text_rows = [[_text(k, row[k]) for k in COLUMNS] for row in rows]
    if args.format == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows([list(COLUMNS), *text_rows])
        return out.getvalue().rstrip("\n"), sound
    widths = [max(len(h), *(len(r[i]) for r in text_rows)) if text_rows else len(h) for i, h in enumerate(COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in [list(COLUMNS), *text_rows]]
    if not sound:
        lines.append("NOT RECONCILED: some lines read have no outcome (unaccounted != 0)")
    return "\n".join(lines), sound
