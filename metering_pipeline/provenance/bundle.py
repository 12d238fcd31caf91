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

from metering_pipeline.catalog import Catalog, Meter, Source, parse_catalog
from metering_pipeline.ingest.formats import raw_locator
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


def recompute_spec(explanation: Explanation) -> dict:
    """What verify.py needs beside each event's `locate`: the meter's rule and the billed quantity."""
    meter = explanation.meter
    billed = explanation.billed if explanation.billed is not None else explanation.usage_value
    return {
        "meter": meter.name,
        "unit": meter.unit,
        "aggregation": meter.aggregation,
        "value_path": list(meter.value_keys),
        "quantity": format(billed.normalize(), "f") if billed else "0",
        "events": len(explanation.events),
    }


def _sources(catalog: Catalog, explanation: Explanation) -> dict[str, Source]:
    """The landing sources of the catalog the meter definition came from (the current one when that
    catalog was not recorded)."""
    chosen = catalog
    if explanation.catalog_document and explanation.catalog_hash != catalog.digest:
        chosen = parse_catalog(json.loads(explanation.catalog_document))
    return {source.name: source for source in chosen.sources}


def locate(sources: dict[str, Source], meter: Meter, event: dict) -> dict:
    """Where verify.py finds the event's id and value in its raw line: the format adapter's own
    reading of the source's field mapping (ingest/formats), never a second copy of it here."""
    landing_source = event["file"].split("/", 1)[0]
    source = sources.get(landing_source)
    if source is None:
        return {"record": None, "id": None, "value": {"mapped": f"source {landing_source!r} is not in the catalog"}}
    keys = () if meter.aggregation == "count" else meter.value_keys
    return raw_locator(source, keys, event)


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
3. The meter's value of an event is `data` + `{".".join(spec["value_path"]) or "(none: count)"}` as the pipeline
   mapped it; in the raw line it sits where the event's `locate` says (the record holding the
   event's id, then the first present of the value paths the catalog maps for the line's format).
   A JSON string is read as an exact decimal, never through a float.
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
    spec = recompute_spec(explanation)
    document = explanation.document()
    sources = _sources(catalog, explanation)
    events = [
        {**{k: e[k] for k in ("file", "line", "source", "id", "time", "value", "data")}, "locate": locate(sources, explanation.meter, e)}
        for e in explanation.events
    ]
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
