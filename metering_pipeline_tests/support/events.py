"""Build CloudEvents lines and run hours through the real assets, for the foundation tests."""

import gzip
import json
from pathlib import Path

import dagster as dg

from metering_pipeline.ingest.assets import ingest
from metering_pipeline.usage.assets import usage_hourly

KEY = "2026-11-22-10:00"
HOUR_DIR = "events/2026/11/22/10"


def event(event_id: str, **overrides) -> dict:
    base = {
        "specversion": "1.0",
        "id": event_id,
        "source": "edge",
        "type": "gateway.request",
        "subject": "acme",
        "time": "2026-11-22T10:30:00Z",
        "data": {"service_id": "svc", "bytes_sent": 10, "bytes_received": 1},
    }
    base.update(overrides)
    return base


def line(event_id: str, **overrides) -> str:
    return json.dumps(event(event_id, **overrides))


def land(landing_dir: Path, name: str, lines: list[str], hour_dir: str = HOUR_DIR) -> Path:
    folder = Path(landing_dir) / hour_dir
    folder.mkdir(parents=True, exist_ok=True)
    body = ("\n".join(lines) + "\n").encode()
    path = folder / name
    path.write_bytes(gzip.compress(body) if name.endswith(".gz") else body)
    return path


def run_hour(clickhouse, landing, catalog, key: str = KEY, assets=(ingest, usage_hourly)) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        list(assets),
        partition_key=key,
        resources={"clickhouse": clickhouse, "landing": landing, "catalog": catalog},
    )
    assert result.success
    return result


def query(clickhouse, sql: str, **params) -> list[tuple]:
    with clickhouse.get_client() as client:
        return client.query(sql, parameters=params).result_rows


def usage(clickhouse, meter: str) -> dict:
    """{(tenant, dimensions tuple): value} for one meter."""
    rows = query(clickhouse, "SELECT tenant_id, dimensions, value FROM usage_hourly WHERE meter = {m:String}", m=meter)
    return {(tenant, tuple(sorted(dims.items()))): value for tenant, dims, value in rows}


def materialization_metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == asset]
    return {k: v.value for k, v in event.materialization.metadata.items()}
