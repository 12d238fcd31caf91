"""An evidence bundle for a disputed quantity: the raw lines behind it, read again from the landing zone
by file and line, the catalog in force, the ledger rows, the explanation, a README with the
recomputation rule, and `verify.py` (standard library only) that recomputes the quantity from the
raw lines. Member names are fixed: a file name, tenant or id from the data only ever appears inside
the JSON documents, never as a path.
"""

import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from metering_pipeline.catalog import Catalog
from metering_pipeline.catalog.jsonpath import parse_jsonpath
from metering_pipeline.ingest.reader import Chunk, iter_file
from metering_pipeline.provenance.explain import Explanation
from metering_pipeline.resources.landing import LandingFile, LandingZone

VERIFY_SCRIPT = Path(__file__).with_name("verify_bundle.py")
MEMBERS = ("README.md", "verify.py", "recompute.json", "explanation.json", "catalog.json", "ledger.ndjson", "events.ndjson", "lines.ndjson")


class BundleError(RuntimeError):
    """The raw lines cannot be read back as they were ingested (a landing file changed or vanished)."""


def read_lines(landing: LandingZone, wanted: dict[str, set[int]]) -> dict[tuple[str, int], bytes]:
    """The raw bytes (without the line end) of each wanted (file, line), read from the landing zone."""
    found = {}
    for name, numbers in sorted(wanted.items()):
        landed = LandingFile(name, 0, "")
        try:
            stream = landing.open(landed)
        except Exception as exc:
            raise BundleError(f"cannot open landing file {name!r}: {exc}") from exc
        with stream:
            for item in iter_file(stream, landed.compressed):
                if isinstance(item, Chunk):
                    found.update(_pick(item, name, numbers))
    return found


def _pick(chunk: Chunk, name: str, numbers: set[int]) -> dict[tuple[str, int], bytes]:
    picked = {}
    last = chunk.first_line_no + chunk.line_count
    for number in numbers:
        if chunk.first_line_no <= number < last:
            index = number - chunk.first_line_no
            start = int(chunk.ends[index - 1]) + 1 if index else 0
            picked[(name, number)] = chunk.data[start : int(chunk.ends[index])]
    return picked


def _ndjson(rows: list[dict]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows).encode("utf-8")


def recompute_spec(catalog: Catalog, explanation: Explanation) -> dict:
    """What verify.py needs: the meter's rule and where each format keeps the event id."""
    meter = explanation.meter
    sources = {event["file"].split("/", 1)[0] for event in explanation.events}
    formats = {s.format for s in catalog.sources if s.name in sources} or {"cloudevents"}
    source = next((s for s in catalog.sources if s.name in sources), None)
    id_paths = [list(p) for p in source.fields.get("id", ())] if source is not None and source.fields.get("id") else [["id"]]
    billed = explanation.billed if explanation.billed is not None else explanation.usage_value
    return {
        "meter": meter.name,
        "unit": meter.unit,
        "aggregation": meter.aggregation,
        "value_path": list(parse_jsonpath(meter.value)) if meter.value else [],
        "format": formats.pop() if len(formats) == 1 else "mixed",
        "id_paths": id_paths,
        "quantity": format(billed.normalize(), "f") if billed else "0",
        "events": len(explanation.events),
    }


def _readme(spec: dict, explanation: Explanation) -> str:
    record = explanation.document()["record"]
    rule = {
        "count": "the number of events",
        "sum": "the exact decimal sum of the values",
        "max": "the largest value",
        "min": "the smallest value",
        "unique_count": "the number of distinct values",
    }[spec["aggregation"]]
    return f"""# Evidence bundle

Record: tenant `{record["tenant_id"]}`, billing account `{record["billing_account_id"]}`, meter `{spec["meter"]}`,
dimensions `{json.dumps(record["dimensions"], ensure_ascii=False)}`, hour starting {record["window_start"]}.
Billed quantity: {spec["quantity"]} {spec["unit"]} (the sum of the record's ledger revisions, `ledger.ndjson`).
Catalog in force: `{explanation.catalog_hash}` ({explanation.catalog_note}), in `catalog.json`.

## Recomputation rule

1. Each line of `lines.ndjson` is a raw log line as it landed (`file`, `line` number from 1, `raw`, `sha256`).
2. Each event of `events.ndjson` came from one of those lines; it is the first copy of its (source, id)
   in the hour (by file name, then line): later copies were dropped as duplicates and are listed in
   `explanation.json` under `duplicates`, with the copy that counted.
3. The meter's value of an event is read from its record at `data` + `{".".join(spec["value_path"]) or "(none: count)"}`
   (format `{spec["format"]}`); a JSON string is read as an exact decimal, never through a float.
4. The quantity is {rule} over those events, for aggregation `{spec["aggregation"]}`.

Run `python3 verify.py` (Python 3.9+, standard library only) in this folder: it does the above from the
raw lines and exits 0 when the result equals the billed quantity, 1 with each difference otherwise.
"""


def build_bundle(path: Path, landing: LandingZone, catalog: Catalog, explanation: Explanation) -> dict:
    """Write the bundle as a .tar.gz at `path`; returns its recompute spec."""
    wanted: dict[str, set[int]] = {}
    for event in explanation.events:
        wanted.setdefault(event["file"], set()).add(event["line"])
    raw = read_lines(landing, wanted)
    lines = []
    for event in explanation.events:
        key = (event["file"], event["line"])
        if key not in raw:
            raise BundleError(f"line {event['line']} of {event['file']!r} is no longer in the landing zone")
        if event["bytes"] and len(raw[key]) != event["bytes"]:
            raise BundleError(
                f"line {event['line']} of {event['file']!r} changed since it was ingested ({len(raw[key])} bytes, was {event['bytes']})"
            )
    for (file, line), body in sorted(raw.items()):
        text = body.decode("utf-8")
        lines.append({"file": file, "line": line, "raw": text, "sha256": hashlib.sha256(body).hexdigest()})
    spec = recompute_spec(catalog, explanation)
    document = explanation.document()
    events = [{k: e[k] for k in ("file", "line", "source", "id", "time", "value", "data")} for e in explanation.events]
    members = {
        "README.md": _readme(spec, explanation).encode("utf-8"),
        "verify.py": VERIFY_SCRIPT.read_bytes(),
        "recompute.json": json.dumps(spec, indent=2, ensure_ascii=False).encode("utf-8"),
        "explanation.json": json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8"),
        "catalog.json": (explanation.catalog_document or "{}").encode("utf-8"),
        "ledger.ndjson": _ndjson(explanation.revisions),
        "events.ndjson": _ndjson(events),
        "lines.ndjson": _ndjson(lines),
    }
    moment = int(datetime.now(UTC).timestamp())
    with tarfile.open(path, "w:gz") as archive:
        for name in MEMBERS:
            info = tarfile.TarInfo(f"bundle/{name}")
            info.size, info.mtime, info.mode = len(members[name]), moment, 0o644
            archive.addfile(info, io.BytesIO(members[name]))
    return spec


def verify_bundle(path: Path) -> tuple[int, str]:
    """Unpack the bundle's known members into a temporary folder and run its own verify.py there."""
    with tempfile.TemporaryDirectory(prefix="metering-bundle-") as folder:
        with tarfile.open(path, "r:gz") as archive:
            for name in MEMBERS:
                try:
                    member = archive.getmember(f"bundle/{name}")
                except KeyError:
                    return 1, f"not an evidence bundle: {name} is missing"
                if not member.isfile():
                    return 1, f"not an evidence bundle: {name} is not a file"
                (Path(folder) / name).write_bytes(archive.extractfile(member).read())
        done = subprocess.run([sys.executable, str(Path(folder) / "verify.py"), folder], capture_output=True, text=True, timeout=600)
        return done.returncode, (done.stdout + done.stderr).strip()
