"""Deterministic sample landing files for the demo and tests: realistic CloudEvents plus a few bad lines."""

import gzip
import json
import random
from datetime import datetime, timedelta
from pathlib import Path

from metering_pipeline.resources.landing import hour_prefix

TENANTS = ("acme", "globex", "initech", "o'brien & co", "umbrella")
SERVICES = ("api-gateway", "auth", "billing", "search")
BAD_LINES = (
    "this is not json",
    '{"specversion": "1.0", "id": "broken", "type": "gateway.request"}',
    '{"specversion": "0.3", "id": "old", "source": "edge", "type": "gateway.request", "subject": "acme", '
    '"time": "2026-01-01T00:00:00Z", "data": {}}',
)


def sample_event(rng: random.Random, hour: datetime, index: int) -> dict:
    moment = hour + timedelta(seconds=rng.randrange(3600), microseconds=rng.randrange(1_000_000))
    tenant = rng.choice(TENANTS)
    kind = rng.random()
    if kind < 0.6:
        event_type = "gateway.request"
        data = {"service_id": rng.choice(SERVICES), "bytes_sent": rng.randrange(100, 50_000), "bytes_received": rng.randrange(0, 5_000)}
    elif kind < 0.75:
        event_type = "gateway.connection"
        data = {"service_id": rng.choice(SERVICES), "duration_seconds": f"{rng.randrange(1, 600_000) / 1000:.3f}"}
    else:
        event_type = "api.call"
        data = {"endpoint": rng.choice(("/v1/query", "/v1/ingest")), "user_id": f"user-{rng.randrange(20)}"}
    return {
        "specversion": "1.0",
        "id": f"{hour:%Y%m%d%H}-{index:06d}",
        "source": "edge-proxy",
        "type": event_type,
        "subject": tenant,
        "time": moment.isoformat().replace("+00:00", "Z"),
        "data": data,
    }


def write_sample_hour(landing: Path, hour: datetime, events: int = 400, seed: int = 7, source: str = "events") -> list[Path]:
    """Two files for the hour (one gzip), with a duplicate and the BAD_LINES mixed in."""
    rng = random.Random(f"{seed}-{hour.isoformat()}")
    lines = [json.dumps(sample_event(rng, hour, i)) for i in range(events)]
    lines.insert(events // 2, lines[0])
    lines.extend(BAD_LINES)
    folder = Path(landing) / hour_prefix(source, hour)
    folder.mkdir(parents=True, exist_ok=True)
    half = len(lines) // 2
    plain, packed = folder / "proxy-a.ndjson", folder / "proxy-b.ndjson.gz"
    plain.write_text("\n".join(lines[:half]) + "\n", encoding="utf-8")
    packed.write_bytes(gzip.compress(("\n".join(lines[half:]) + "\n").encode(), mtime=0))
    return [plain, packed]
