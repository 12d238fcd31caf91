"""The benchmark generator is deterministic and lands the promised mix (no timing here)."""

import gzip
import hashlib
import json
from collections import Counter

from benchmarks.generate import BENCH_HOUR, LINE_REASONS, hour_folder, write_hour, zipf_weights

EVENTS = 6_000


def _digest(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _lines(folder) -> list[bytes]:
    lines = []
    for path in sorted(folder.iterdir()):
        body = path.read_bytes()
        lines += (gzip.decompress(body) if path.name.endswith(".gz") else body).splitlines()
    return lines


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    first = write_hour(tmp_path / "a", BENCH_HOUR, EVENTS, seed=7, events_per_file=2_000, oversized=1)
    again = write_hour(tmp_path / "b", BENCH_HOUR, EVENTS, seed=7, events_per_file=2_000, oversized=1)
    other = write_hour(tmp_path / "c", BENCH_HOUR, EVENTS, seed=8, events_per_file=2_000, oversized=1)
    assert _digest(hour_folder(tmp_path / "a", BENCH_HOUR)) == _digest(hour_folder(tmp_path / "b", BENCH_HOUR))
    assert first == again
    assert _digest(hour_folder(tmp_path / "a", BENCH_HOUR)) != _digest(hour_folder(tmp_path / "c", BENCH_HOUR))
    assert first["meters"] != other["meters"]


def test_the_promised_mix(tmp_path):
    manifest = write_hour(tmp_path, BENCH_HOUR, EVENTS, seed=7, events_per_file=2_000, oversized=1)
    folder = hour_folder(tmp_path, BENCH_HOUR)
    names = sorted(p.name for p in folder.iterdir())
    assert any(n.endswith(".ndjson") for n in names) and any(n.endswith(".ndjson.gz") for n in names)
    assert [f["name"] for f in manifest["files"]] == names

    lines = _lines(folder)
    assert len(lines) == manifest["lines"] == EVENTS
    assert manifest["accepted"] + manifest["duplicates"] + sum(manifest["quarantined"].values()) == EVENTS

    # Every line-level quarantine reason, plus one oversized line; about 1 % bad in all.
    assert set(manifest["quarantined"]) == set(LINE_REASONS) | {"oversized"}
    assert manifest["quarantined"]["oversized"] == 1
    assert sum(1 for line in lines if len(line) > 1 << 20) == 1
    assert abs(sum(manifest["quarantined"].values()) / EVENTS - 0.01) < 0.002

    # Duplicates: exact copies of a good line, ~0.5 %, each after its original.
    copies = Counter(line for line in lines if line.startswith(b'{"specversion":"1.0","id":"') and len(line) < 4096)
    repeated = sum(n - 1 for n in copies.values() if n > 1)
    assert repeated == manifest["duplicates"] == round(EVENTS * 0.005)

    # Good events parse, carry the catalog's types, and the tenant mix is skewed.
    good = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("type") in ("gateway.request", "gateway.connection", "api.call"):
            good.append(event)
    assert {e["type"] for e in good} == {"gateway.request", "gateway.connection", "api.call"}
    tenants = Counter(e["subject"] for e in good if isinstance(e.get("subject"), str))
    top, share = tenants.most_common(1)[0]
    assert top == "tenant-001" and share / len(good) > 0.05
    assert zipf_weights()[0] > 50 * zipf_weights()[-1]
    assert 220 <= manifest["bytes_per_event"] <= 260
