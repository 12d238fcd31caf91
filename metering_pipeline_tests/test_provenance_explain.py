"""`metering-pipeline explain`, evidence bundles and `verify-bundle` on real chDB, real files and real runs.

Each quantity is checked against an independent recomputation in the test: the landing files read
with plain Python, the first copy of each (source, id) by (file name, line) kept, the meter's value
summed (or counted distinctly) exactly.
"""

import json
import tarfile
from decimal import Decimal
from pathlib import Path

import pytest

from metering_pipeline_tests.support.events import HOUR_DIR, land, line, query
from metering_pipeline_tests.support.provenance import cli, explain_json, rewrite, run_all

HOUR = "2026-11-22T10:00"
F = HOUR_DIR + "/"


@pytest.fixture
def cli_env(clickhouse, landing, monkeypatch):
    monkeypatch.setenv("METERING_CLICKHOUSE_URL", clickhouse.url)
    monkeypatch.setenv("METERING_DATABASE", clickhouse.database)
    monkeypatch.setenv("METERING_LANDING_URL", landing.url)
    monkeypatch.delenv("METERING_CATALOG", raising=False)


def recompute(landing_dir: Path, tenant: str, event_type: str, value_key: str | None, distinct: bool = False) -> tuple[Decimal, list]:
    """The quantity from the landing files alone: first copy of each (source, id) by (file name, line)."""
    seen, contributing = set(), []
    for path in sorted((landing_dir / HOUR_DIR).iterdir(), key=lambda p: p.name):
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            try:
                record = json.loads(text, parse_float=Decimal)
            except ValueError:
                continue
            if not isinstance(record, dict) or (record.get("source"), record.get("id")) in seen:
                continue
            value = record.get("data", {}).get(value_key) if value_key else 1
            if record.get("specversion") != "1.0" or (value_key and not distinct and Decimal(str(value)) < 0):
                continue  # quarantined by the pipeline; never a copy that counts
            seen.add((record["source"], record["id"]))
            if record.get("subject") == tenant and record.get("type") == event_type:
                contributing.append((path.name, number, record["id"], value))
    if distinct:
        return Decimal(len({v for *_, v in contributing})), contributing
    return sum((Decimal(str(v)) for *_, v in contributing), Decimal(0)), contributing


def data(sent, service="svc") -> dict:
    return {"service_id": service, "bytes_sent": sent, "bytes_received": 1}


@pytest.mark.slow
def test_a_quantity_explained_back_to_its_lines_after_a_rerun_and_a_late_correction(
    clickhouse, landing, landing_dir, tmp_path, cli_env, capsys
):
    bad = line("neg", data=data(-5))  # a negative sum value: quarantined invalid_value, names acme
    land(
        landing_dir,
        "a.ndjson",
        [line("e1", data=data(10)), line("e2", data=data(20)), line("g1", subject="globex"), line("e1", data=data(10)), bad],
    )
    run_all(clickhouse, landing, tmp_path)
    run_all(clickhouse, landing, tmp_path)  # a rerun changes nothing: still one revision
    first = explain_json(capsys, "--tenant", "acme", "--meter", "gateway_egress_bytes", "--hour", HOUR)
    assert first["quantity"] == {
        "recomputed_from_events": "30",
        "usage_hourly": "30",
        "billed_sum_of_revisions": "30",
        "events": 2,
        "consistent": True,
    }
    assert [(e["id"], e["file"], e["line"], e["value"]) for e in first["events"]] == [
        ("e1", F + "a.ndjson", 1, "10"),
        ("e2", F + "a.ndjson", 2, "20"),
    ]
    assert [(d["id"], d["line"], d["kept_line"], d["identical"]) for d in first["duplicates"]] == [("e1", 4, 1, True)]
    assert [(q["line"], q["reason"]) for q in first["quarantined"]] == [(5, "invalid_value")]
    assert [(r["revision"], r["delta"]) for r in first["revisions"]] == [(0, "30")]

    # A late file: one new event, and e2's id reused for another quantity (dropped, conflicting).
    land(landing_dir, "b.ndjson", [line("e4", data=data(7)), line("e2", data=data(999))])
    run_all(clickhouse, landing, tmp_path)
    [(correction_id,)] = query(
        clickhouse, "SELECT toString(record_id) FROM export_ledger WHERE revision = 1 AND meter = 'gateway_egress_bytes'"
    )
    second = explain_json(capsys, correction_id)
    assert [(r["revision"], r["kind"], r["delta"], r["total_after"]) for r in second["revisions"]] == [
        (0, "usage", "30", "30"),
        (1, "correction", "7", "37"),
    ]
    assert second["record"]["record_ids"][1] == correction_id
    expected, contributing = recompute(landing_dir, "acme", "gateway.request", "bytes_sent")
    assert expected == Decimal(second["quantity"]["billed_sum_of_revisions"]) == Decimal(second["quantity"]["recomputed_from_events"]) == 37
    assert [(e["file"], e["line"], e["id"]) for e in second["events"]] == [(F + f, n, i) for f, n, i, _ in contributing]
    assert [(d["id"], d["file"], d["line"], d["kept_file"], d["identical"]) for d in second["duplicates"]] == [
        ("e1", F + "a.ndjson", 4, F + "a.ndjson", True),
        ("e2", F + "b.ndjson", 2, F + "a.ndjson", False),
    ]
    code, out, _ = cli(capsys, "explain", correction_id)
    assert code == 0 and "correction" in out and "b.ndjson" in out and "invalid_value" in out
    code, out, _ = cli(capsys, "explain", correction_id, "--format", "ndjson")
    assert [json.loads(text)["id"] for text in out.splitlines()] == ["e1", "e2", "e4"]


@pytest.mark.slow
def test_unique_count_meter_explained_and_bundled(clickhouse, landing, landing_dir, tmp_path, cli_env, capsys):
    calls = [
        line("c1", type="api.call", data={"endpoint": "/v1/q", "user_id": "alice"}),
        line("c2", type="api.call", data={"endpoint": "/v1/q", "user_id": "bob"}),
        line("c3", type="api.call", data={"endpoint": "/v1/q", "user_id": "alice"}),
        line("c2", type="api.call", data={"endpoint": "/v1/q", "user_id": "carol"}),  # a conflicting duplicate: carol never counts
    ]
    land(landing_dir, "a.ndjson", calls)
    run_all(clickhouse, landing, tmp_path)
    bundle = tmp_path / "users.tar.gz"
    document = explain_json(capsys, "--tenant", "acme", "--meter", "api_active_users", "--hour", HOUR, "--bundle", str(bundle))
    expected, _ = recompute(landing_dir, "acme", "api.call", "user_id", distinct=True)
    assert expected == 2 and document["quantity"]["recomputed_from_events"] == document["quantity"]["billed_sum_of_revisions"] == "2"
    assert [e["value"] for e in document["events"]] == ["alice", "bob", "alice"]
    assert [(d["id"], d["identical"]) for d in document["duplicates"]] == [("c2", False)]
    code, out, _ = cli(capsys, "verify-bundle", str(bundle))
    assert code == 0, out
    assert "verified: api_active_users = 2" in out


@pytest.mark.slow
def test_bundle_verifies_and_one_tampered_line_fails(clickhouse, landing, landing_dir, tmp_path, cli_env, capsys):
    land(landing_dir, "a.ndjson", [line("e1", data=data(10)), line("e2", data=data("0.1")), line("e3", data=data(5))])
    land(landing_dir, "b.ndjson.gz", [line("e5", data=data("2.25")), line("e1", data=data(10))])
    run_all(clickhouse, landing, tmp_path)
    bundle = tmp_path / "out.tar.gz"
    code, _, err = cli(capsys, "explain", "--tenant", "acme", "--meter", "gateway_egress_bytes", "--hour", HOUR, "--bundle", str(bundle))
    assert code == 0, err
    with tarfile.open(bundle, "r:gz") as archive:
        assert sorted(archive.getnames()) == sorted(
            f"bundle/{n}"
            for n in (
                "README.md",
                "verify.py",
                "recompute.json",
                "explanation.json",
                "catalog.json",
                "ledger.ndjson",
                "events.ndjson",
                "lines.ndjson",
            )
        )
        lines = [json.loads(t) for t in archive.extractfile("bundle/lines.ndjson").read().decode().splitlines()]
        catalog = json.loads(archive.extractfile("bundle/catalog.json").read())
    assert [(item["file"], item["line"]) for item in lines] == [
        (F + "a.ndjson", 1),
        (F + "a.ndjson", 2),
        (F + "a.ndjson", 3),
        (F + "b.ndjson.gz", 1),
    ]
    assert "gateway_egress_bytes" in {m["name"] for m in catalog["meters"]}
    code, out, _ = cli(capsys, "verify-bundle", str(bundle))
    assert code == 0 and "gateway_egress_bytes = 17.35" in out

    tampered = tmp_path / "tampered.tar.gz"
    rewrite(bundle, tampered, lambda text: text.replace('\\"bytes_sent\\": 5', '\\"bytes_sent\\": 6'))
    code, out, _ = cli(capsys, "verify-bundle", str(tampered))
    assert code == 1 and "does not match its recorded SHA-256" in out and "the raw lines give 18.35" in out

    def tamper_and_rehash(text: str) -> str:  # a forger who also fixes the hash is still caught by the recomputation
        import hashlib

        rows = [json.loads(t) for t in text.splitlines()]
        rows[2]["raw"] = rows[2]["raw"].replace('"bytes_sent": 5', '"bytes_sent": 6')
        rows[2]["sha256"] = hashlib.sha256(rows[2]["raw"].encode()).hexdigest()
        return "".join(json.dumps(r) + "\n" for r in rows)

    rewrite(bundle, tampered, tamper_and_rehash)
    code, out, _ = cli(capsys, "verify-bundle", str(tampered))
    assert code == 1 and "SHA-256" not in out and "the raw line gives 6, the pipeline counted 5" in out


HOSTILE_TENANT = "a'b\"c ../../x ü 💥 \\ ; DROP TABLE events"
HOSTILE_ID = "../../etc/passwd'\"; --"
HOSTILE_SERVICE = "svc/../'\"é"


@pytest.mark.slow
def test_hostile_ids_and_tenants_through_explain_and_the_bundle(clickhouse, landing, landing_dir, tmp_path, cli_env, capsys):
    land(
        landing_dir,
        "a.ndjson",
        [
            line(HOSTILE_ID, subject=HOSTILE_TENANT, data=data("3", HOSTILE_SERVICE)),
            line("plain", subject=HOSTILE_TENANT, data=data(4, HOSTILE_SERVICE)),
            line(HOSTILE_ID, subject=HOSTILE_TENANT, data=data("3", HOSTILE_SERVICE)),
            line("x", subject=HOSTILE_TENANT, data={"service_id": HOSTILE_SERVICE, "bytes_sent": "1e999", "bytes_received": 1}),
        ],
    )
    run_all(clickhouse, landing, tmp_path)
    bundle = tmp_path / "hostile.tar.gz"
    args = ["--tenant", HOSTILE_TENANT, "--meter", "gateway_egress_bytes", "--hour", HOUR, "--dimension", f"service_id={HOSTILE_SERVICE}"]
    document = explain_json(capsys, *args, "--bundle", str(bundle))
    assert document["record"]["tenant_id"] == HOSTILE_TENANT and document["record"]["dimensions"] == {"service_id": HOSTILE_SERVICE}
    assert document["quantity"]["billed_sum_of_revisions"] == "7" and document["quantity"]["consistent"]
    assert [e["id"] for e in document["events"]] == [HOSTILE_ID, "plain"]
    assert [(d["id"], d["identical"]) for d in document["duplicates"]] == [(HOSTILE_ID, True)]
    assert [q["line"] for q in document["quarantined"]] == [4]
    with tarfile.open(bundle, "r:gz") as archive:
        assert all(name.startswith("bundle/") and ".." not in name for name in archive.getnames())
    code, out, _ = cli(capsys, "verify-bundle", str(bundle))
    assert code == 0, out
    code, out, _ = cli(capsys, "explain", *args)  # the readable table too
    assert code == 0 and HOSTILE_TENANT in out
    code, _, err = cli(capsys, "explain", *args[:-2], "--dimension", "service_id=nope")
    assert code == 2 and "no usage of meter" in err


def test_unknown_or_malformed_record_id_is_a_clear_error(clickhouse, landing, landing_dir, tmp_path, cli_env, capsys):
    land(landing_dir, "a.ndjson", [line("e1")])
    run_all(clickhouse, landing, tmp_path)
    for record_id in ("00000000-0000-0000-0000-000000000000", "'; DROP TABLE export_ledger; --", "../../x", "ü"):
        code, out, err = cli(capsys, "explain", record_id)
        assert code == 2 and out == "" and "no exported record has id" in err and "Traceback" not in err
    assert query(clickhouse, "SELECT count() FROM export_ledger") != [(0,)]
    code, _, err = cli(capsys, "explain", "--tenant", "acme", "--meter", "no_such_meter", "--hour", HOUR)
    assert code == 2 and "no usage of meter" in err
    code, _, err = cli(capsys, "explain", "--tenant", "acme", "--meter", "gateway_requests", "--hour", "2026-11-22T10:30")
    assert code == 2 and "start of an hour" in err
    code, _, err = cli(capsys, "verify-bundle", str(tmp_path / "missing.tar.gz"))
    assert code == 2 and "no such bundle" in err


@pytest.mark.slow
def test_bundle_built_from_an_s3_landing(clickhouse, s3, tmp_path, monkeypatch, capsys):
    """The raw lines are read back from S3 (moto on loopback) by file and line, gzip included."""
    import gzip

    from metering_pipeline.resources import LandingZone
    from metering_pipeline_tests.support.s3_server import REGION

    plain = "\n".join([line("s1", data=data(3)), line("s2", data=data("0.5"))]) + "\n"
    packed = gzip.compress(("\n".join([line("s1", data=data(3)), "", line("s3", data=data(4))]) + "\n").encode())
    s3.client().put_object(Bucket=s3.bucket, Key=f"landing/{F}a.ndjson", Body=plain.encode())
    s3.client().put_object(Bucket=s3.bucket, Key=f"landing/{F}b.ndjson.gz", Body=packed)
    landing = LandingZone(url=s3.url("landing"), region=REGION)
    run_all(clickhouse, landing, tmp_path)
    monkeypatch.setenv("METERING_CLICKHOUSE_URL", clickhouse.url)
    monkeypatch.setenv("METERING_DATABASE", clickhouse.database)
    monkeypatch.setenv("METERING_LANDING_URL", landing.url)
    monkeypatch.setenv("AWS_REGION", REGION)
    bundle = tmp_path / "s3.tar.gz"
    document = explain_json(capsys, "--tenant", "acme", "--meter", "gateway_egress_bytes", "--hour", HOUR, "--bundle", str(bundle))
    assert [(e["file"], e["line"]) for e in document["events"]] == [(F + "a.ndjson", 1), (F + "a.ndjson", 2), (F + "b.ndjson.gz", 3)]
    assert [(d["file"], d["line"]) for d in document["duplicates"]] == [(F + "b.ndjson.gz", 1)]
    with tarfile.open(bundle, "r:gz") as archive:
        raws = [json.loads(t)["raw"] for t in archive.extractfile("bundle/lines.ndjson").read().decode().splitlines()]
    assert raws == [line("s1", data=data(3)), line("s2", data=data("0.5")), line("s3", data=data(4))]
    code, out, _ = cli(capsys, "verify-bundle", str(bundle))
    assert code == 0 and "gateway_egress_bytes = 7.5" in out
