"""Recompute a billed quantity from the raw log lines of an evidence bundle (copied into it as `verify.py`).

Standard library only, so an auditor can run it anywhere: `python3 verify.py [bundle directory]`.
Exit status 0 when every check holds, 1 otherwise; each failure is printed.

Checks, in order:
1. every raw line in `lines.ndjson` still has the SHA-256 recorded when the bundle was built;
2. every event in `events.ndjson` is read again from its raw line, following the event's `locate`
   (written by the pipeline from the catalog's field mapping of the line's format, so this script
   knows no format): the line's JSON record that carries the event's id (`record`: the line;
   `batch`, a CloudEvents batch element; `fluentd`, the line without fluentd's time and tag), then
   the meter's value at the first present of the `value` paths (absent, null, blank or an unset
   marker is no value: `absent` stands in when given; `divide` scales it). Each value must equal
   the value the pipeline counted. A value the pipeline derives rather than reads (`mapped`, e.g.
   an Envoy route, which is its attribution key), or one of a source the catalog no longer has, is
   taken from the event's data and said so (a NOTE);
3. no (source, id) counts twice;
4. the meter's aggregation over the values recomputed from the raw lines (count: the events;
   sum, max, min: exact decimals; unique_count: distinct values) equals the billed quantity
   (the sum of the record's ledger revisions; the stored hourly usage when not exported yet).
"""

import hashlib
import json
import re
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path


def _read_ndjson(path: Path) -> list[dict]:
    return [json.loads(text) for text in path.read_text(encoding="utf-8").splitlines() if text.strip()]


def _first_wins(pairs):
    """A key written twice keeps its first value, as the pipeline's JSON functions read it."""
    document = {}
    for key, value in pairs:
        document.setdefault(key, value)
    return document


def _parse(text: str):
    return json.loads(text, parse_float=Decimal, object_pairs_hook=_first_wins)


def _at(document, keys):
    for key in keys:
        if not isinstance(document, dict) or key not in document:
            return None
        document = document[key]
    return document


def _value_text(value):
    """The value as the pipeline reads it: a string's content, any other JSON value's text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _first(document, paths, unset=()):
    """The text of the first path holding a value: present, not null, not blank, not an unset marker."""
    for keys in paths:
        text = _value_text(_at(document, keys))
        if text is not None and text.strip() and text not in unset:
            return text
    return None


def _records(locate: dict, raw: str) -> list[tuple[object, str]]:
    """(parsed record, its text) for each JSON record the raw line holds."""
    text = re.sub(locate["prefix"], "", raw, count=1) if locate["record"] == "fluentd" else raw
    parsed = _parse(text)
    if locate["record"] == "batch" and isinstance(parsed, list):
        return [(element, None) for element in parsed]
    return [(parsed, text)]


def _has_id(locate: dict, record, text, event_id: str) -> bool:
    ident = locate["id"]
    if "sha256" in ident:
        return text is not None and ident["sha256"] + hashlib.sha256(text.encode("utf-8")).hexdigest() == event_id
    found = _first(record, ident["paths"], ident.get("unset", ()))
    return found is not None and any(found + suffix == event_id for suffix in ident.get("suffixes", [""]))


def _number(aggregation: str, text):
    if aggregation == "count":
        return Decimal(1)
    if text is None or aggregation == "unique_count":
        return text
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _mapped(spec: dict, event: dict, why: str):
    """The value as the pipeline mapped it (its event data), for a value the raw line does not hold as such."""
    text = _value_text(_at(json.loads(event["data"], parse_float=Decimal), spec["value_path"]))
    return _number(spec["aggregation"], text), None, why


def _from_line(spec: dict, raw: str, event: dict):
    """The event's value read again from its raw line; (value, problem, note)."""
    locate = event["locate"]
    if locate["record"] is None:  # the line's source is not in the catalog: nothing says how to read it
        return _mapped(spec, event, locate["value"]["mapped"])
    try:
        records = _records(locate, raw)
    except ValueError as exc:
        return None, f"is not JSON: {exc}", None
    matching = [(r, t) for r, t in records if isinstance(r, dict) and _has_id(locate, r, t, event["id"])]
    if len(matching) != 1:
        return None, f"holds {len(matching)} records with id {event['id']!r}", None
    value = locate["value"]
    if value is None:
        return Decimal(1), None, None
    if "mapped" in value:
        return _mapped(spec, event, value["mapped"])
    text = _first(matching[0][0], value["paths"], value.get("unset", ())) or value.get("absent")
    number = _number(spec["aggregation"], text)
    if value.get("divide") and isinstance(number, Decimal):
        number = number / Decimal(value["divide"])
    return number, None, None


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


def verify(folder: Path) -> tuple[list[str], list[str]]:
    """(problems, notes)."""
    spec = json.loads((folder / "recompute.json").read_text(encoding="utf-8"))
    lines = {(item["file"], item["line"]): item for item in _read_ndjson(folder / "lines.ndjson")}
    events = _read_ndjson(folder / "events.ndjson")
    problems, notes = [], set()
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
        value, problem, note = _from_line(spec, item["raw"], event)
        if problem:
            problems.append(f"{where}: the raw line {problem}")
            continue
        if note:
            notes.add(f"taken from the pipeline's event data, not the raw line: {note}")
        counted = event["value"] if spec["aggregation"] == "unique_count" else Decimal(event["value"])
        if value is None or value != counted:
            problems.append(f"{where}: the raw line gives {value!s}, the pipeline counted {event['value']}")
        values.append(value if value is not None else Decimal(0))
    recomputed = _aggregate(spec["aggregation"], values)
    expected = Decimal(spec["quantity"])
    if recomputed != expected:
        problems.append(f"the raw lines give {recomputed.normalize():f}, the billed quantity is {expected.normalize():f}")
    return problems, sorted(notes)


def main(argv: list[str]) -> int:
    folder = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    problems, notes = verify(folder)
    spec = json.loads((folder / "recompute.json").read_text(encoding="utf-8"))
    for note in notes:
        print(f"NOTE {note}")
    for problem in problems:
        print(f"FAIL {problem}")
    if problems:
        print(f"verification FAILED: {len(problems)} problem(s)")
        return 1
    print(f"verified: {spec['meter']} = {spec['quantity']} {spec['unit']} recomputed from {spec['events']} event(s) on their raw lines")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
