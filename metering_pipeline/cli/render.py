"""Output of `metering-pipeline usage`: an aligned table, JSON or CSV; quantities stay exact decimal strings."""

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal

# Columns right-aligned in a table: the usage figures, and the status command's counts.
NUMERIC = {"value", "events", "lines_read", "accepted", "duplicates", "quarantined", "revision"}


def cell(value) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value else "0"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:00")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def render(header: list[str], rows: list[tuple], fmt: str) -> str:
    text_rows = [[cell(v) for v in row] for row in rows]
    if fmt == "json":
        return json.dumps([dict(zip(header, row)) for row in text_rows], indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(text_rows)
        return out.getvalue().rstrip("\n")
    widths = [max(len(h), *(len(r[i]) for r in text_rows)) if text_rows else len(h) for i, h in enumerate(header)]
    numeric = {i for i, h in enumerate(header) if h in NUMERIC}
    lines = ["  ".join(h.rjust(w) if i in numeric else h.ljust(w) for i, (h, w) in enumerate(zip(header, widths)))]
    lines += ["  ".join(c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in text_rows]
    return "\n".join(line.rstrip() for line in lines)
