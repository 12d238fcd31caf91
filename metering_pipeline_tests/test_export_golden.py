"""The billing export of a fixed hour, byte for byte against committed golden files.

Downstream systems deduplicate on record ids and read manifests as bytes: an accidental
change of the UUID namespace, of a name's canonical JSON, of the records' or the
manifest's serialization, of the layout or of the chunking re-keys or re-writes every
export, and tests that compare an export only with itself stay green through it. This one
compares with files committed under `golden/export/` (the object layout mirrored as is):
every key, every byte, the manifests included.

The hour is fixed and nothing in it reads the clock: usage rows put into usage_hourly
directly (the exporter's input, so ingest and dbt changes never move these files), the
catalog in `golden/catalog.yaml` (its digest is the records' `catalog_hash`), partition
2026-11-22-10:00, three records per object so chunk indexes count. Two runs: revision 0
(usage) and revision 1 (a correction: one tenant up, one gone, one new).

Changing the golden files is deliberate (see golden/README.md and the README's export
contract): `METERING_UPDATE_GOLDEN=1 .venv/bin/python -m pytest metering_pipeline_tests/test_export_golden.py`
rewrites them and fails on purpose, then `git diff` shows what changed for review.
"""

import difflib
import os
import shutil
from pathlib import Path

import pytest

from metering_pipeline.resources import CatalogResource
from metering_pipeline_tests.support.export_helpers import checks, make_store, run_export, set_usage, stored, usage

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_EXPORT = GOLDEN / "export"
GOLDEN_CATALOG = GOLDEN / "catalog.yaml"
UPDATE_ENV = "METERING_UPDATE_GOLDEN"
REGENERATE = f"{UPDATE_ENV}=1 .venv/bin/python -m pytest metering_pipeline_tests/test_export_golden.py"
MAX_RECORDS_PER_OBJECT = 3
DRAFT_METER = "networking.datumapis.com/gateway/requests"

REVISION_0 = [
    usage("acme", value="10", events=10),
    usage("acme", value="4", events=4, dims={"service_id": "search"}),
    usage("globex", value="7", events=7, account="acct-42"),
    usage("initech", value="3", events=3),
    usage("o'brien & co", value="1", events=1, dims={"service_id": "auth"}),
    usage("umbrella", value="25", events=25),
    usage("zürich-straße", value="2", events=2, dims={"service_id": "billing"}),
    usage("acme", meter="gateway_connection_seconds", value="12.345", events=3),
    usage("globex", meter="gateway_connection_seconds", value="0.001", events=1, account="acct-42"),
    usage("acme", meter="api_calls", value="5", events=5, dims={"endpoint": "/v1/query"}),
    usage("initech", meter="api_calls", value="2", events=2, dims={"endpoint": "/v1/ingest", "region": 'eu "west"/1 é', "zone": ""}),
    usage("acme", meter=DRAFT_METER, value="6", events=6, dims={}),
]
# The correction: acme's requests go up by 2, initech's requests are withdrawn, a newcomer appears.
REVISION_1 = [row for row in REVISION_0 if not (row["tenant_id"] == "initech" and row["meter"] == "gateway_requests")]
REVISION_1 = [usage("acme", value="12", events=12) if row == REVISION_0[0] else row for row in REVISION_1]
REVISION_1.append(usage("newcomer", value="1", events=1, dims={"service_id": "auth"}))


def export_fixed_hour(clickhouse, tmp_path) -> dict[str, bytes]:
    store = make_store("local", tmp_path, max_records_per_object=MAX_RECORDS_PER_OBJECT)
    catalog = CatalogResource(path=str(GOLDEN_CATALOG))
    for rows in (REVISION_0, REVISION_1):
        set_usage(clickhouse, rows)
        result = run_export(clickhouse, store, catalog=catalog)
        assert result.success and all(checks(result).values())
    return stored(store)


def golden_files() -> dict[str, bytes]:
    return {path.relative_to(GOLDEN_EXPORT).as_posix(): path.read_bytes() for path in sorted(GOLDEN_EXPORT.rglob("*")) if path.is_file()}


def rewrite_golden(exported: dict[str, bytes]) -> None:
    shutil.rmtree(GOLDEN_EXPORT, ignore_errors=True)
    for key, body in exported.items():
        path = GOLDEN_EXPORT / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)


def byte_diff(key: str, golden: bytes, exported: bytes, lines: int = 30) -> str:
    diff = difflib.unified_diff(
        golden.decode("utf-8", "replace").splitlines(),
        exported.decode("utf-8", "replace").splitlines(),
        f"golden/export/{key}",
        f"exported/{key}",
        lineterm="",
        n=0,
    )
    return "\n".join(list(diff)[:lines])


def test_the_export_of_a_fixed_hour_matches_the_golden_files_byte_for_byte(clickhouse, tmp_path):
    exported = export_fixed_hour(clickhouse, tmp_path)
    assert any(k.startswith("_manifests/") for k in exported) and any(k.startswith("_draft/") for k in exported)

    if os.environ.get(UPDATE_ENV) == "1":
        rewrite_golden(exported)
        pytest.fail(
            f"{UPDATE_ENV}=1: rewrote {len(exported)} golden files under {GOLDEN_EXPORT}; this run fails on purpose. "
            "Review `git diff -- metering_pipeline_tests/golden`, note the change in the README's export contract, "
            f"and run again without {UPDATE_ENV}."
        )

    golden = golden_files()
    assert golden, f"no golden files under {GOLDEN_EXPORT}: {REGENERATE}"
    how = (
        f"\nThe export no longer matches the committed golden files: downstream ids or bytes would change. If that is "
        f"deliberate, regenerate them ({REGENERATE}) and note it in the README's export contract."
    )
    missing, extra = sorted(golden.keys() - exported.keys()), sorted(exported.keys() - golden.keys())
    assert not missing and not extra, f"keys only in golden: {missing}\nkeys only in the export: {extra}{how}"
    changed = [key for key in golden if golden[key] != exported[key]]
    assert not changed, (
        f"{len(changed)} of {len(golden)} objects differ: {changed}\n"
        + byte_diff(changed[0], golden[changed[0]], exported[changed[0]])
        + how
    )


def test_the_golden_hour_covers_what_the_contract_pins():
    """The golden files keep covering chunking, both record kinds, a draft meter, odd names and both manifests."""
    golden = golden_files()
    manifests = sorted(k for k in golden if k.startswith("_manifests/"))
    assert manifests == ["_manifests/2026/11/22/10/00/revision-000000.json", "_manifests/2026/11/22/10/00/revision-000001.json"]
    data = [k for k in golden if k.endswith(".jsonl")]
    assert sum(k.startswith("gateway_requests/") for k in data) >= 3  # 7 records, 3 per object, + the correction
    assert any(k.startswith("_draft/networking.datumapis.com%2Fgateway%2Frequests/") for k in data)
    text = b"".join(golden[k] for k in data).decode("utf-8")
    assert '"kind":"usage"' in text and '"kind":"correction"' in text and '"quantity":"-3"' in text
    assert "zürich-straße" in text and "o'brien & co" in text  # UTF-8 kept as is, not \u-escaped
