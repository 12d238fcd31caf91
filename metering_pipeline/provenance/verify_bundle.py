"""Recompute a billed quantity from the raw log lines of an evidence bundle (copied into it as `verify.py`).

Standard library only, so an auditor can run it anywhere: `python3 verify.py [bundle directory]`.
Exit status 0 when every check holds, 1 otherwise; each failure is printed.

Checks, in order:
1. every raw line in `lines.ndjson` still has the SHA-256 recorded when the bundle was built;
2. every event in `events.ndjson` is read again from its raw line (file, line): for the
   `cloudevents` format the record with the event's id is found in the line (one event, or a
   JSON batch) and the meter's value is read at `data` + the meter's JSONPath; for other formats
   the value is read from the event's `data` as the pipeline mapped it (the raw line is then
   covered by check 1 only). Each value must equal the value the pipeline counted;
3. no (source, id) counts twice;
4. the meter's aggregation over the values recomputed from the raw lines (count: the events;
   sum, max, min: exact decimals; unique_count: distinct values) equals the billed quantity
   (the sum of the record's ledger revisions; the stored hourly usage when not exported yet).
"""

import hashlib
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path


def _read_ndjson(path: Path) -> list[dict]:
    return [json.loads(text) for text in path.read_text(encoding="utf-8").splitlines() if text.strip()]


def _at(document, keys):
    for key in keys:
        if not isinstance(document, dict) or key not in document:
            return None
        document = document[key]
    return document


def _first(document, paths):
    for keys in paths:
        found = _at(document, keys)
        if found is not None and not (isinstance(found, str) and not found.strip()):
            return found
    return None


def _value_text(value):
    """The value as the pipeline reads it: a string's content, any other JSON value's text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False) if not isinstance(value, Decimal) else str(value)


def _value(aggregation: str, raw_value):
    if aggregation == "count":
        return Decimal(1)
    text = _value_text(raw_value)
    if text is None or aggregation == "unique_count":
        return text
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _from_line(spec: dict, raw: str, event: dict):
    """The event's value read again from its raw line; (value, problem)."""
    if spec["format"] != "cloudevents":
        return _value(spec["aggregation"], _at(json.loads(event["data"], parse_float=Decimal), spec["value_path"] or [])), None
    try:
        parsed = json.loads(raw, parse_float=Decimal)
    except ValueError as exc:
        return None, f"not JSON: {exc}"
    records = parsed if isinstance(parsed, list) else [parsed]
    matching = [r for r in records if isinstance(r, dict) and _value_text(_first(r, spec["id_paths"])) == event["id"]]
    if len(matching) != 1:
        return None, f"holds {len(matching)} records with id {event['id']!r}"
    if spec["aggregation"] == "count":
        return Decimal(1), None
    return _value(spec["aggregation"], _at(matching[0], ["data", *spec["value_path"]])), None


def _aggregate(aggregation: str, values: list):
    if aggregation == "unique_count":
        return Decimal(len(set(values)))
    if not values:
        return Decimal(0)
    if aggregation == "max":
        return max(values)
    if aggregation == "min":
        return min(values)
    return sum(values, Decimal(0))


def verify(folder: Path) -> list[str]:
    spec = json.loads((folder / "recompute.json").read_text(encoding="utf-8"))
    lines = {(item["file"], item["line"]): item for item in _read_ndjson(folder / "lines.ndjson")}
    events = _read_ndjson(folder / "events.ndjson")
    problems = []
    for (file, line), item in sorted(lines.items()):
        if hashlib.sha256(item["raw"].encode("utf-8")).hexdigest() != item["sha256"]:
            problems.append(f"{file}:{line}: the raw line does not match its recorded SHA-256")
    values, seen = [], set()
    for event in events:
        where = f"{event['file']}:{event['line']} ({event['source']}, {event['id']})"
        key = (event["source"], event["id"])
        if key in seen:
            problems.append(f"{where}: counted twice")
        seen.add(key)
        item = lines.get((event["file"], event["line"]))
        if item is None:
            problems.append(f"{where}: its raw line is missing from the bundle")
            continue
        value, problem = _from_line(spec, item["raw"], event)
        if problem:
            problems.append(f"{where}: the raw line {problem}")
            continue
        counted = event["value"] if spec["aggregation"] == "unique_count" else Decimal(event["value"])
        if value is None or value != counted:
            problems.append(f"{where}: the raw line gives {value!s}, the pipeline counted {event['value']}")
        values.append(value if value is not None else Decimal(0))
    recomputed = _aggregate(spec["aggregation"], values)
    expected = Decimal(spec["quantity"])
    if recomputed != expected:
        problems.append(f"the raw lines give {recomputed.normalize():f}, the billed quantity is {expected.normalize():f}")
    return problems


def main(argv: list[str]) -> int:
    folder = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    problems = verify(folder)
    spec = json.loads((folder / "recompute.json").read_text(encoding="utf-8"))
    for problem in problems:
        print(f"FAIL {problem}")
    if problems:
        print(f"verification FAILED: {len(problems)} problem(s)")
        return 1
    print(f"verified: {spec['meter']} = {spec['quantity']} {spec['unit']} recomputed from {spec['events']} event(s) on their raw lines")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
