"""Hostile lines for every input format, and the check that each one ended accepted, duplicate or quarantined.

One generator, two sources of choices: hypothesis (`HypothesisChooser`, for the property
tests, which shrink a failure to a minimal hour) and a seeded `random.Random`
(`RandomChooser`, for the soak, which needs a million lines in a minute). A line starts as
a valid record of its format (CloudEvents, Envoy access log, billing-client Event, Data API
BillingEvent), attributed and inside the hour, then gets mutations: fields dropped or set
to hostile JSON (NaN, Infinity, 1e309, 60-digit and 400-digit numbers, -0, lone
surrogates, NUL escapes, 1000-deep nesting, strings over the 1024-character limit, wrong
types), hostile times (hour edges, offsets, 9+ fraction digits, Feb 30, leap seconds), and
byte-level damage (a BOM, CRLF, NUL bytes, invalid UTF-8, truncation, trailing garbage,
random bytes, lines right around the 1 MiB limit). Ids come from a small pool, so
duplicates within and across files happen.

`classify` checks an ingested hour independently of the pipeline's own accounting: the
lines it counts are the non-blank lines that were written, and every one of them is
either an accepted line (in `events`), a quarantined line (in `quarantine`, with a known
reason) or one of the reported duplicates, and never two of these.
"""

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

from metering_pipeline.ingest.reader import MAX_LINE_BYTES
from metering_pipeline.validate.rules import FILE_REASONS, REASONS

HOUR_PATH = "2026/11/22/10"
FORMATS = {"cloudevents": "events", "envoy": "envoy-gateway", "billing_client": "billing-client", "data_api": "data-api"}
BLANK = re.compile(rb"[\t\n\f\r ]*")  # RE2's \s, which ingest uses to skip blank lines

HOSTILE_JSON = (
    "NaN",
    "Infinity",
    "-Infinity",
    "-0",
    "1e309",
    "-1e309",
    "9" * 60,
    "1" + "0" * 400,
    "0.1",
    "-1",
    "0",
    "1.5",
    "1e-30",
    "12345678901234567890123456789.0123456789",
    "9223372036854775808",
    "-9223372036854775809",
    "null",
    "true",
    "false",
    '"12.5"',
    '"-"',
    '""',
    '"abc"',
    "[]",
    "{}",
    "[1,2]",
    '{"a":1}',
    '"\\u0000"',
    '"\\ud800"',
    '"\\udfff\\ud800"',
    '"a\\u0000b"',
    '"\\u202egnp.exe"',
    '"\u0430\u0441\u0442\u0435"',
    "[" * 1000 + "]" * 1000,
    '{"a":' * 300 + "1" + "}" * 300,
    '"' + "x" * 1025 + '"',
    '"\'; DROP TABLE events; --"',
    '"{x:String}"',
    '"$$"',
    '"\\\\G"',
    '"%s {0}"',
    '"../../etc/passwd"',
)
TIMES = (
    "2026-11-22T10:00:00Z",
    "2026-11-22T10:59:59.999999Z",
    "2026-11-22T10:59:59.999999999Z",
    "2026-11-22T11:00:00Z",
    "2026-11-22T09:59:59.999999Z",
    "2026-11-22T12:30:00+02:00",
    "2026-11-22T05:15:00.5-05:00",
    "2026-11-22t10:30:00z",
    "2026-11-22T10:30:00.1234567890123Z",
    "2026-02-30T10:00:00Z",
    "2026-11-22T10:59:60Z",
    "0000-01-01T00:00:00Z",
    "2026-11-22 10:30:00",
    "1795400000",
    "yesterday",
    "",
    "2026-11-22T10:30:00+25:00",
)
TEXTS = ("acme", "globex", "o'brien & co", "", " ", "a\u0000b", "\u202e", "😀" * 3, "x" * 1100, "../x", "{x:String}", "%s", "\\")


class RandomChooser:
    def __init__(self, rng: random.Random, id_pool: int = 40):
        self.rng, self.id_pool = rng, id_pool

    def pick(self, options):
        return options[self.rng.randrange(len(options))]

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def raw_bytes(self, size: int) -> bytes:
        return self.rng.randbytes(size)

    def text(self) -> str:
        return "".join(
            chr(self.rng.choice((self.rng.randrange(32, 127), self.rng.randrange(0x80, 0x2FFF)))) for _ in range(self.rng.randrange(12))
        )


class HypothesisChooser:
    id_pool = 40

    def __init__(self, draw):
        self.draw = draw

    def pick(self, options):
        return self.draw(st.sampled_from(options))

    def integer(self, low: int, high: int) -> int:
        return self.draw(st.integers(low, high))

    def chance(self, p: float) -> bool:
        return self.draw(st.integers(0, 999)) < p * 1000

    def raw_bytes(self, size: int) -> bytes:
        return self.draw(st.binary(min_size=size, max_size=size))

    def text(self) -> str:
        return self.draw(st.text(alphabet=st.characters(codec="utf-8"), max_size=12))


def _record(fmt: str, c) -> dict:
    """A valid, attributed record of `fmt` inside the hour."""
    ident = f"id-{c.integer(0, c.id_pool)}"
    moment = f"2026-11-22T10:{c.integer(0, 59):02d}:{c.integer(0, 59):02d}.{c.integer(0, 999999):06d}Z"
    if fmt == "cloudevents":
        kind = c.pick(("gateway.request", "gateway.connection", "api.call"))
        data = {
            "gateway.request": {"service_id": c.pick(("api", "auth")), "bytes_sent": c.integer(0, 9999), "bytes_received": 1},
            "gateway.connection": {"service_id": "api", "duration_seconds": f"{c.integer(0, 99999) / 1000:.3f}"},
            "api.call": {"endpoint": "/v1", "user_id": f"u{c.integer(0, 9)}"},
        }[kind]
        return {
            "specversion": "1.0",
            "id": ident,
            "source": c.pick(("edge", "api")),
            "type": kind,
            "subject": c.pick(TEXTS[:3]),
            "time": moment,
            "data": data,
        }
    if fmt == "envoy":
        route = c.pick(("httproute/team-a/web/rule/0", "httproute/team-b/api/rule/0", "tcproute/team-a/db/rule/0"))
        tcp = route.startswith("tcp")
        record = {
            "start_time": moment,
            "protocol": None if tcp else "HTTP/1.1",
            "method": None if tcp else "GET",
            "x-request-id": None if tcp else ident,
            ":authority": "web.example.com",
            "upstream_cluster": route,
            "route_name": f"{route}/match/0/web.example.com",
            "response_code": 0 if tcp else 200,
            "response_flags": None,
            "bytes_sent": c.integer(0, 5000),
            "bytes_received": c.integer(0, 500),
            "duration": c.integer(0, 90000),
        }
        if c.chance(0.5):  # the older generation: every value a string, "-" for unset
            record = {k: "-" if v is None else str(v) for k, v in record.items()}
        return record
    if fmt == "billing_client":
        kinds = ("container-seconds", "node-seconds", "weavenet-seconds", "samples")
        amounts = {k: c.integer(0, 5000) for k in kinds[: c.integer(1, 4)]}
        return {
            "unique_key": ident,
            "internal_instance_id": c.pick(("1001", "2002")),
            c.pick(("occurred_at", "timestamp")): moment,
            "amounts": amounts,
            "metadata": c.pick((None, {"cluster": "eu-1"})),
        }
    if fmt == "data_api":
        metric = c.pick(("total_tokens", "egress_bytes", "ingress_bytes"))
        model = c.pick(("embedding", "reranking"))
        return {
            "id": ident,
            "timestamp": moment,
            "product": "astra-data-api",
            "event_type": f"{c.pick(('internal', 'external'))}_{model}_{metric}",
            "properties": {
                "usage": c.integer(0, 99999),
                "region": "us-east-2",
                "resource_type": "database",
                "resource_id": c.pick(("db-1", "db-2")),
                "provider": "openai",
                "model": "m",
                "model_type": model,
            },
        }
    raise ValueError(fmt)


def _paths(record: dict, prefix=()) -> list[tuple]:
    found = []
    for key, value in record.items():
        found.append(prefix + (key,))
        if isinstance(value, dict):
            found += _paths(value, prefix + (key,))
    return found


def _mutate_fields(record: dict, c) -> tuple[dict, dict[str, str]]:
    """Drop or replace fields; hostile JSON goes in through placeholders swapped in after serialization."""
    literals: dict[str, str] = {}
    for _ in range(c.integer(0, 3)):
        path = c.pick(_paths(record))
        parent = record
        for key in path[:-1]:
            parent = parent[key]
        action = c.integer(0, 5)
        if action == 0:
            parent.pop(path[-1], None)
        elif action in (1, 2):
            placeholder = f"@@literal-{len(literals)}@@"
            literals[placeholder] = c.pick(HOSTILE_JSON)
            parent[path[-1]] = placeholder
        elif action == 3:
            parent[path[-1]] = c.pick(TIMES)
        elif action == 4:
            parent[path[-1]] = c.pick(TEXTS) if c.chance(0.5) else c.text()
        else:
            parent[c.text() or "extra"] = c.pick(TEXTS)
    return record, literals


def _serialize(record: dict, literals: dict[str, str], c) -> bytes:
    text = json.dumps(record, ensure_ascii=c.chance(0.5))
    for placeholder, literal in literals.items():
        text = text.replace(json.dumps(placeholder), literal)
    return text.encode("utf-8", "surrogatepass")


def _damage(line: bytes, c) -> bytes:
    action = c.integer(0, 14)
    if action == 0:
        return b"\xef\xbb\xbf" + line  # BOM
    if action == 1:
        return line + b"\r"  # CRLF
    if action == 2:
        at = c.integer(0, len(line))
        return line[:at] + b"\x00" + line[at:]
    if action == 3:
        at = c.integer(0, len(line))
        return line[:at] + c.pick((b"\xff", b"\xc3", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80")) + line[at:]
    if action == 4:
        return line[: c.integer(0, len(line))]  # truncated
    if action == 5:
        return line + c.pick((b" garbage", b"{}", b",", b" " * 3))
    if action == 6:
        return c.raw_bytes(c.integer(0, 64)).replace(b"\n", b" ")
    if action == 7:
        return c.pick((b"", b"   ", b"\t\r", b"\x0b", b"\x00", b"[]", b'"a string"', b"42", b"null", b"{", b"}"))
    if action == 8 and c.chance(0.05):  # right around the 1 MiB line limit (rare: a soak hour would be gigabytes)
        target = MAX_LINE_BYTES + c.integer(-2, 2)
        return line[:-1] + b', "pad": "' + b"p" * max(0, target - len(line) - 10) + b'"}' if line.endswith(b"}") else line
    return line


def hostile_line(fmt: str, c) -> bytes:
    record, literals = _mutate_fields(_record(fmt, c), c) if c.chance(0.8) else (_record(fmt, c), {})
    line = _serialize(record, literals, c)
    return _damage(line, c) if c.chance(0.5) else line


@st.composite
def hostile_lines(draw, fmt: str, max_size: int = 25) -> list[bytes]:
    chooser = HypothesisChooser(draw)
    lines = [hostile_line(fmt, chooser) for _ in range(chooser.integer(0, max_size))]
    if lines and chooser.chance(0.3):
        lines.append(chooser.pick(lines))  # an exact resend
    return lines


def random_lines(fmt: str, rng: random.Random, count: int) -> list[bytes]:
    chooser = RandomChooser(rng, id_pool=count)
    lines = [hostile_line(fmt, chooser) for _ in range(count)]
    for _ in range(count // 50):
        lines[rng.randrange(count)] = lines[rng.randrange(count)]  # resends
    return lines


def write_lines(landing: Path, fmt: str, lines: list[bytes], name: str = "fuzz.ndjson") -> str:
    """Write one file of `lines` for the format's source; returns its landing name."""
    folder = landing / FORMATS[fmt] / HOUR_PATH
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.iterdir():
        stale.unlink()
    (folder / name).write_bytes(b"".join(line + b"\n" for line in lines))
    return f"{FORMATS[fmt]}/{HOUR_PATH}/{name}"


def counted_lines(lines: list[bytes]) -> set[int]:
    """Line numbers ingest must account for: over the limit, or not blank."""
    return {n for n, line in enumerate(lines, 1) if len(line) > MAX_LINE_BYTES or not BLANK.fullmatch(line)}


@dataclass
class Classified:
    lines: int = 0  # non-blank lines written
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    unclassified: int = 0
    problems: list[str] = field(default_factory=list)


def classify(client, report, written: dict[str, list[bytes]]) -> Classified:
    """Every counted line of every written file is exactly one of accepted, quarantined or duplicate."""
    result = Classified()
    known = set(REASONS) | set(FILE_REASONS)
    expected = {name: counted_lines(lines) for name, lines in written.items()}
    result.lines = sum(len(v) for v in expected.values())
    accepted = {(f, n) for f, n in client.query("SELECT DISTINCT source_file, line_no FROM events").result_rows}
    rows = client.query("SELECT source_file, line_no, reason FROM quarantine").result_rows
    quarantined = [(f, n) for f, n, _ in rows]
    result.accepted, result.quarantined, result.duplicates = len(accepted), len(quarantined), report.duplicates
    problems = result.problems
    if report.lines_read != result.lines:
        problems.append(f"lines_read {report.lines_read} != {result.lines} non-blank lines written")
    if not report.reconciles:
        problems.append(f"report does not reconcile: {report}")
    bad_reasons = sorted({r for _, _, r in rows} - known)
    if bad_reasons:
        problems.append(f"unknown quarantine reasons {bad_reasons}")
    if len(set(quarantined)) != len(quarantined):
        problems.append("a line quarantined twice")
    both = accepted & set(quarantined)
    if both:
        problems.append(f"{len(both)} lines both accepted and quarantined, e.g. {sorted(both)[:3]}")
    placed = accepted | set(quarantined)
    stray = {(f, n) for f, n in placed if n not in expected.get(f, ())}
    if stray:
        problems.append(f"{len(stray)} placed lines that were blank or never written, e.g. {sorted(stray)[:3]}")
    missing = sum(len(v) for v in expected.values()) - len(placed - stray) - report.duplicates
    if missing or report.duplicates < 0:
        problems.append(f"{missing} lines neither accepted, quarantined nor duplicate")
    result.unclassified = abs(missing) + len(stray) + len(both) + sum(1 for _, _, r in rows if r not in known)
    return result
