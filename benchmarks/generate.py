"""Deterministic, seeded landed hours for the benchmarks: realistic CloudEvents NDJSON, plain and gzip.

An hour of `events` lines is:
- good events of the default catalog's types (gateway.request 60 %, gateway.connection 15 %,
  api.call 25 %), from 500 tenants with a Zipf-like skew (weight 1 / rank^1.1), ~240 bytes each;
- ~1 % bad lines, cycling through variants of every line-level quarantine reason
  (malformed_json, missing_field, invalid_field, invalid_time, wrong_partition,
  unknown_event_type, invalid_value) plus, from 100K events up, one oversized line (> 1 MiB)
  per started million;
- ~0.5 % duplicates: exact copies of a good line, landing a little after the original;
- split over files of ~125K lines, alternately plain `.ndjson` and `.ndjson.gz`.

The same (events, seed, hour) always gives byte-identical files (numpy PCG64 seeded from a
SeedSequence, gzip with mtime 0). Each hour comes with a manifest of what the pipeline must
find: lines, accepted, duplicates, quarantined per reason, and exact per-meter totals.
"""

import gzip
import json
import math
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

from metering_pipeline.validate.rules import REASONS as PIPELINE_REASONS

GENERATOR_VERSION = 2  # bump on any change to what is generated: cached hours are reused by it
LANDING_SOURCE = "events"
BENCH_HOUR = datetime(2026, 11, 22, 10, tzinfo=UTC)
DATA_ROOT = Path(__file__).resolve().parent / "data"

TENANT_COUNT = 500
ZIPF_EXPONENT = 1.1
BAD_RATE = 0.01
DUPLICATE_RATE = 0.005
EVENTS_PER_FILE = 125_000
OVERSIZED_FROM = 100_000
OVERSIZED_PAYLOAD = (1 << 20) + 4096
GZIP_LEVEL = 6

TYPES = ("gateway.request", "gateway.connection", "api.call")
TYPE_WEIGHTS = (0.60, 0.15, 0.25)
SERVICES = ("checkout", "search", "catalog", "auth", "media", "payments", "reco", "notify")
ENDPOINTS = ("/v1/query", "/v1/ingest", "/v1/export", "/v1/metrics", "/v2/query", "/v2/batch")
STATUSES = (200, 200, 200, 200, 201, 204, 304, 404, 429, 500)
EDGE_SOURCES = tuple(f"edge-proxy-{k:02d}" for k in range(8))
API_SOURCES = tuple(f"api-node-{k:02d}" for k in range(4))
USERS_PER_TENANT = 200

# The pipeline's own reasons; CloudEvents lines carry no attribution key, so never `unattributed`.
REASONS = tuple(r for r in PIPELINE_REASONS if r != "unattributed")
LINE_REASONS = tuple(r for r in REASONS if r != "oversized")

_TEMPLATES = {
    0: '{{"specversion":"1.0","id":"{id}","source":"{source}","type":"gateway.request","subject":"{tenant}",'
    '"time":"{time}","data":{{"service_id":"{service}","bytes_sent":{sent},"bytes_received":{received}}}}}',
    1: '{{"specversion":"1.0","id":"{id}","source":"{source}","type":"gateway.connection","subject":"{tenant}",'
    '"time":"{time}","data":{{"service_id":"{service}","duration_seconds":"{duration}"}}}}',
    2: '{{"specversion":"1.0","id":"{id}","source":"{source}","type":"api.call","subject":"{tenant}",'
    '"time":"{time}","data":{{"endpoint":"{endpoint}","user_id":"{user}","status":{status}}}}}',
}


def tenant_name(rank: int) -> str:
    return f"tenant-{rank:03d}"


def zipf_weights(count: int = TENANT_COUNT, exponent: float = ZIPF_EXPONENT) -> np.ndarray:
    weights = 1.0 / np.arange(1, count + 1) ** exponent
    return weights / weights.sum()


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _ids(rng: np.random.Generator, n: int) -> list[str]:
    text = rng.bytes(16 * n).hex()
    out = []
    for i in range(n):
        h = text[32 * i : 32 * i + 32]
        out.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}")
    return out


def _times(rng: np.random.Generator, n: int, hour: datetime) -> list[str]:
    prefix = hour.strftime("%Y-%m-%dT%H:")
    seconds = rng.integers(0, 3600, n).tolist()
    micros = rng.integers(0, 1_000_000, n).tolist()
    millis_only = (rng.random(n) < 0.1).tolist()
    out = []
    for s, us, ms in zip(seconds, micros, millis_only):
        minute, second = divmod(s, 60)
        frac = f"{us // 1000:03d}" if ms else f"{us:06d}"
        out.append(f"{prefix}{minute:02d}:{second:02d}.{frac}Z")
    return out


class _Meters:
    """Exact per-meter totals over the accepted (first-copy, good) events."""

    def __init__(self):
        self.requests = self.connections = self.calls = 0
        self.sent = self.received = self.duration_ms = 0
        self.users: set[tuple[int, int]] = set()
        self.tenants: set[int] = set()

    def as_dict(self) -> dict[str, str]:
        return {
            "gateway_requests": str(self.requests),
            "gateway_egress_bytes": str(self.sent),
            "gateway_ingress_bytes": str(self.received),
            "gateway_connection_seconds": str(Decimal(self.duration_ms) / 1000),
            "api_calls": str(self.calls),
            "api_active_users": str(len(self.users)),
        }


def _good_lines(rng: np.random.Generator, n: int, hour: datetime, meters: _Meters) -> list[str]:
    kinds = rng.choice(3, n, p=TYPE_WEIGHTS)
    tenants = rng.choice(TENANT_COUNT, n, p=zipf_weights()) + 1
    ids = _ids(rng, n)
    times = _times(rng, n, hour)
    services = rng.integers(0, len(SERVICES), n)
    sent = np.minimum(np.exp(rng.normal(8.0, 1.6, n)), 50_000_000).astype(np.int64)
    received = np.minimum(np.exp(rng.normal(5.0, 2.0, n)), 10_000_000).astype(np.int64)
    duration = rng.integers(1, 600_000, n)
    endpoints = rng.integers(0, len(ENDPOINTS), n)
    users = rng.integers(0, USERS_PER_TENANT, n)
    statuses = rng.integers(0, len(STATUSES), n)
    edge = rng.integers(0, len(EDGE_SOURCES), n)
    api = rng.integers(0, len(API_SOURCES), n)

    is_req, is_conn, is_call = kinds == 0, kinds == 1, kinds == 2
    meters.requests += int(is_req.sum())
    meters.connections += int(is_conn.sum())
    meters.calls += int(is_call.sum())
    meters.sent += int(sent[is_req].sum())
    meters.received += int(received[is_req].sum())
    meters.duration_ms += int(duration[is_conn].sum())
    meters.users.update(zip(tenants[is_call].tolist(), users[is_call].tolist()))
    meters.tenants.update(np.unique(tenants).tolist())

    t0, t1, t2 = _TEMPLATES[0], _TEMPLATES[1], _TEMPLATES[2]
    out = []
    for i, kind in enumerate(kinds.tolist()):
        tenant = tenant_name(int(tenants[i]))
        if kind == 0:
            out.append(
                t0.format(
                    id=ids[i],
                    source=EDGE_SOURCES[edge[i]],
                    tenant=tenant,
                    time=times[i],
                    service=SERVICES[services[i]],
                    sent=sent[i],
                    received=received[i],
                )
            )
        elif kind == 1:
            ms = int(duration[i])
            out.append(
                t1.format(
                    id=ids[i],
                    source=EDGE_SOURCES[edge[i]],
                    tenant=tenant,
                    time=times[i],
                    service=SERVICES[services[i]],
                    duration=f"{ms // 1000}.{ms % 1000:03d}",
                )
            )
        else:
            out.append(
                t2.format(
                    id=ids[i],
                    source=API_SOURCES[api[i]],
                    tenant=tenant,
                    time=times[i],
                    endpoint=ENDPOINTS[endpoints[i]],
                    user=f"user-{users[i]:03d}",
                    status=STATUSES[statuses[i]],
                )
            )
    return out


# --- bad lines: each fails exactly one family of rules ------------------------------------------


def _event(rng: np.random.Generator, hour: datetime, kind: int = 0) -> dict:
    event_id = _ids(rng, 1)[0]
    event = {
        "specversion": "1.0",
        "id": event_id,
        "source": EDGE_SOURCES[0] if kind < 2 else API_SOURCES[0],
        "type": TYPES[kind],
        "subject": tenant_name(int(rng.integers(1, TENANT_COUNT + 1))),
        "time": _times(rng, 1, hour)[0],
    }
    if kind == 0:
        event["data"] = {"service_id": "checkout", "bytes_sent": 1234, "bytes_received": 56}
    elif kind == 1:
        event["data"] = {"service_id": "search", "duration_seconds": "1.500"}
    else:
        event["data"] = {"endpoint": "/v1/query", "user_id": "user-001", "status": 200}
    return event


def _dumps(event: dict) -> str:
    return json.dumps(event, separators=(",", ":"))


def _without(event: dict, key: str) -> dict:
    return {k: v for k, v in event.items() if k != key}


def _with(event: dict, **changes) -> dict:
    return {**event, **changes}


def _with_data(event: dict, drop: str | None = None, **changes) -> dict:
    data = {k: v for k, v in event["data"].items() if k != drop}
    data.update(changes)
    return {**event, "data": data}


_REQUIRED = ("specversion", "id", "source", "type", "subject", "time")


def _bad_variants(hour: datetime):
    """(reason, make(rng, k) -> line) in a fixed rotation; k counts that variant's uses."""
    before = (hour - timedelta(minutes=7)).strftime("%Y-%m-%dT%H:%M:%S.250Z")
    after = (hour + timedelta(hours=1, seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    spaced = hour.strftime("%Y-%m-%d %H:15:00Z")
    bad_clock = hour.strftime("%Y-%m-%dT%H:61:00Z")
    e = lambda rng, kind=0: _event(rng, hour, kind)  # noqa: E731
    return (
        ("malformed_json", lambda rng, k: f"proxy-{k % 8:02d} upstream timeout after 30000ms; retrying"),
        ("malformed_json", lambda rng, k: (lambda s: s[: len(s) // 2])(_dumps(e(rng)))),
        ("malformed_json", lambda rng, k: _dumps(e(rng, 2)).replace("user-001", "user-\udcff\udcfe")),
        # A CloudEvents JSON batch is a line too: one whose element is not an object is malformed whole.
        ("malformed_json", lambda rng, k: "[" + _dumps(e(rng)) + ", 42]"),
        ("malformed_json", lambda rng, k: _dumps(e(rng)).replace('"bytes_sent":1234', '"bytes_sent":1e999')),
        ("missing_field", lambda rng, k: _dumps(_without(e(rng), _REQUIRED[k % len(_REQUIRED)]))),
        ("missing_field", lambda rng, k: _dumps(_with(e(rng, 1), subject=None))),
        ("invalid_field", lambda rng, k: _dumps(_with(e(rng), subject=40000 + k))),
        ("missing_field", lambda rng, k: _dumps(_with(e(rng), id=""))),  # blank is missing, in every format
        ("invalid_field", lambda rng, k: _dumps(_with(e(rng), specversion="0.3"))),
        ("invalid_field", lambda rng, k: _dumps(_with(e(rng, 1), data="H4sIAAAAAAAA/6tWSs7PS0nNS1eyUkpKLFKqBQAkxEgOEgAAAA=="))),
        ("invalid_time", lambda rng, k: _dumps(_with(e(rng), time="yesterday afternoon"))),
        ("invalid_time", lambda rng, k: _dumps(_with(e(rng), time=spaced))),
        ("invalid_time", lambda rng, k: _dumps(_with(e(rng, 2), time=bad_clock))),
        ("wrong_partition", lambda rng, k: _dumps(_with(e(rng), time=before))),
        ("wrong_partition", lambda rng, k: _dumps(_with(e(rng, 2), time=after))),
        ("unknown_event_type", lambda rng, k: _dumps(_with(e(rng), type="gateway.websocket"))),
        ("unknown_event_type", lambda rng, k: _dumps(_with(e(rng, 2), type="billing.adjustment"))),
        ("invalid_value", lambda rng, k: _dumps(_with_data(e(rng), bytes_sent=-17))),
        ("invalid_value", lambda rng, k: _dumps(_with_data(e(rng), bytes_received="lots"))),
        ("invalid_value", lambda rng, k: _dumps(_with_data(e(rng), drop="bytes_sent"))),
        ("invalid_value", lambda rng, k: _dumps(_with_data(e(rng, 1), duration_seconds="NaN"))),
        ("invalid_value", lambda rng, k: _dumps(_with_data(e(rng, 2), drop="user_id"))),
    )


def _oversized_line(rng: np.random.Generator, hour: datetime) -> str:
    event = _with(_event(rng, hour), type="gateway.debug_dump")
    event["data"] = {"dump": "A" * OVERSIZED_PAYLOAD}
    return _dumps(event)


# --- files and manifests -------------------------------------------------------------------------


def _hour_ordinal(hour: datetime) -> int:
    return int(hour.timestamp()) // 3600


def default_oversized(events: int) -> int:
    return math.ceil(events / 1_000_000) if events >= OVERSIZED_FROM else 0


def hour_folder(landing: Path, hour: datetime, source: str = LANDING_SOURCE) -> Path:
    return Path(landing) / source / f"{hour:%Y/%m/%d/%H}"


def write_hour(
    landing: Path,
    hour: datetime = BENCH_HOUR,
    events: int = 100_000,
    seed: int = 42,
    *,
    source: str = LANDING_SOURCE,
    events_per_file: int = EVENTS_PER_FILE,
    oversized: int | None = None,
) -> dict:
    """Write one hour of `events` lines under `landing`; return its manifest (what the pipeline must find)."""
    hour = hour.astimezone(UTC)
    oversized = default_oversized(events) if oversized is None else oversized
    bad_total = max(round(events * BAD_RATE), oversized)
    dup_total = round(events * DUPLICATE_RATE)
    good_total = events - bad_total - dup_total
    if good_total <= 0:
        raise ValueError(f"an hour needs more than {bad_total + dup_total} events, got {events}")
    n_files = max(2, math.ceil(events / events_per_file))
    folder = hour_folder(landing, hour, source)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)

    variants = _bad_variants(hour)
    meters = _Meters()
    bad_counts: Counter = Counter()
    variant_uses: Counter = Counter()
    bad_index = 0
    files, raw_bytes, stored_bytes, oversized_bytes = [], 0, 0, 0
    goods, dups, bads = _split(good_total, n_files), _split(dup_total, n_files), _split(bad_total, n_files)
    for file_no in range(n_files):
        rng = np.random.default_rng(np.random.SeedSequence([seed, GENERATOR_VERSION, _hour_ordinal(hour), file_no]))
        g, d, b = goods[file_no], dups[file_no], bads[file_no]
        good = _good_lines(rng, g, hour, meters)
        bad = []
        for _ in range(b):
            if bad_index < oversized:
                bad.append(_oversized_line(rng, hour))
                oversized_bytes += len(bad[-1]) + 1
                bad_counts["oversized"] += 1
            else:
                which = (bad_index - oversized) % len(variants)
                reason, make = variants[which]
                bad.append(make(rng, variant_uses[which]))
                variant_uses[which] += 1
                bad_counts[reason] += 1
            bad_index += 1
        sources = rng.integers(0, g, d)
        keys = np.concatenate(
            (
                np.arange(g, dtype=np.float64),
                sources + rng.uniform(0.5, min(g, 5000) + 0.5, d),
                rng.uniform(0, g, b),
            )
        )
        pool = good + [good[s] for s in sources.tolist()] + bad
        order = np.argsort(keys, kind="stable").tolist()
        body = ("\n".join(pool[i] for i in order) + "\n").encode("utf-8", "surrogateescape")
        compressed = file_no % 2 == 1
        name = f"shipper-{file_no:03d}.ndjson" + (".gz" if compressed else "")
        stored = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0) if compressed else body
        (folder / name).write_bytes(stored)
        files.append({"name": name, "bytes": len(stored), "compressed": compressed})
        raw_bytes += len(body)
        stored_bytes += len(stored)

    return {
        "generator_version": GENERATOR_VERSION,
        "hour": hour.isoformat(),
        "seed": seed,
        "events": events,
        "lines": events,
        "accepted": good_total,
        "duplicates": dup_total,
        "quarantined": dict(sorted(bad_counts.items())),
        "tenants": len(meters.tenants),
        "files": files,
        "raw_bytes": raw_bytes,
        "stored_bytes": stored_bytes,
        "bytes_per_event": round((raw_bytes - oversized_bytes) / (events - oversized), 1),
        "meters": meters.as_dict(),
    }


def _manifest_ok(path: Path, expected: dict, folder: Path) -> dict | None:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if any(manifest.get(k) != v for k, v in expected.items()):
        return None
    for entry in manifest.get("files", []):
        file = folder / entry["name"]
        if not file.is_file() or file.stat().st_size != entry["bytes"]:
            return None
    return manifest


def ensure_hour(events: int, seed: int = 42, hour: datetime = BENCH_HOUR, root: Path = DATA_ROOT) -> tuple[Path, dict]:
    """(landing dir, manifest) of a generated hour, reusing an identical earlier generation."""
    dataset = Path(root) / f"hour-{events}-seed{seed}"
    landing = dataset / "landing"
    manifest_path = dataset / "manifest.json"
    expected = {"generator_version": GENERATOR_VERSION, "events": events, "seed": seed, "hour": hour.isoformat()}
    manifest = _manifest_ok(manifest_path, expected, hour_folder(landing, hour))
    if manifest is None:
        manifest = write_hour(landing, hour, events, seed)
        manifest_path.write_text(json.dumps(manifest, indent=1))
    return landing, manifest


def ensure_backfill(
    hours: int, events: int, seed: int = 42, first_hour: datetime = BENCH_HOUR - timedelta(days=30), root: Path = DATA_ROOT
) -> tuple[Path, dict]:
    """(landing dir, summary) of `hours` consecutive generated hours, each with its own seed stream."""
    dataset = Path(root) / f"backfill-{hours}x{events}-seed{seed}"
    landing = dataset / "landing"
    summary_path = dataset / "manifest.json"
    expected = {
        "generator_version": GENERATOR_VERSION,
        "hours": hours,
        "events": events,
        "seed": seed,
        "first_hour": first_hour.isoformat(),
    }
    try:
        summary = json.loads(summary_path.read_text())
        if all(summary.get(k) == v for k, v in expected.items()):
            return landing, summary
    except (OSError, ValueError):
        pass
    totals: Counter = Counter()
    quarantined: Counter = Counter()
    for h in range(hours):
        manifest = write_hour(landing, first_hour + timedelta(hours=h), events, seed)
        totals.update({k: manifest[k] for k in ("lines", "accepted", "duplicates", "raw_bytes", "stored_bytes")})
        totals["files"] += len(manifest["files"])
        quarantined.update(manifest["quarantined"])
    summary = {**expected, **totals, "quarantined": dict(sorted(quarantined.items()))}
    summary_path.write_text(json.dumps(summary, indent=1))
    return landing, summary


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Write a generated benchmark hour and print its manifest.")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--landing", type=Path, default=None, help="write here instead of the cached data dir")
    args = parser.parse_args(argv)
    if args.landing:
        manifest = write_hour(args.landing, BENCH_HOUR, args.events, args.seed)
    else:
        _, manifest = ensure_hour(args.events, args.seed)
    print(json.dumps({k: v for k, v in manifest.items() if k != "files"}, indent=1))


if __name__ == "__main__":
    main()
