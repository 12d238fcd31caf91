"""Shared setup of the provenance tests: run hours through ingest, usage and export, call the CLI, tamper bundles."""

import hashlib
import io
import json
import tarfile
from pathlib import Path

import dagster as dg

from metering_pipeline.cli import main
from metering_pipeline.export.assets import billing_export
from metering_pipeline.ingest.assets import ingest
from metering_pipeline.resources import CatalogResource
from metering_pipeline.resources.export_store import ExportStore
from metering_pipeline.usage.assets import usage_hourly
from metering_pipeline_tests.support.events import KEY


def run_all(clickhouse, landing, tmp_path, catalog: CatalogResource | None = None, key: str = KEY) -> None:
    result = dg.materialize(
        [ingest, usage_hourly, billing_export],
        partition_key=key,
        resources={
            "clickhouse": clickhouse,
            "landing": landing,
            "catalog": catalog or CatalogResource(),
            "export_store": ExportStore(url=str(tmp_path / "export")),
        },
    )
    assert result.success


def cli(capsys, *args) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def explain_json(capsys, *args) -> dict:
    code, out, err = cli(capsys, "explain", *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def rewrite(bundle: Path, target: Path, change) -> None:
    """Copy the bundle with lines.ndjson passed through `change`."""
    with tarfile.open(bundle, "r:gz") as source, tarfile.open(target, "w:gz") as out:
        for member in source.getmembers():
            body = source.extractfile(member).read()
            if member.name == "bundle/lines.ndjson":
                body = change(body.decode("utf-8")).encode("utf-8")
                member.size = len(body)
            out.addfile(member, io.BytesIO(body))


def forge_line(bundle: Path, target: Path, marker: str, old: str, new: str) -> None:
    """A forger's copy of the bundle: in the one raw line holding `marker`, `old` becomes `new`, and
    its SHA-256 is fixed up, so only recomputing the value from the raw line can catch it."""

    def change(text: str) -> str:
        rows = [json.loads(t) for t in text.splitlines()]
        [row] = [r for r in rows if marker in r["raw"]]
        assert old in row["raw"]
        row["raw"] = row["raw"].replace(old, new)
        row["sha256"] = hashlib.sha256(row["raw"].encode()).hexdigest()
        return "".join(json.dumps(r) + "\n" for r in rows)

    rewrite(bundle, target, change)


def bundle_member(bundle: Path, name: str) -> list[dict] | dict:
    with tarfile.open(bundle, "r:gz") as archive:
        text = archive.extractfile(f"bundle/{name}").read().decode("utf-8")
    return json.loads(text) if name.endswith(".json") else [json.loads(t) for t in text.splitlines()]
