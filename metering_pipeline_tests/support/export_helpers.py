"""Helpers and fixtures for the billing export tests (no tests here): usage rows, stores, runs, reading back."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import dagster as dg
import pytest

from metering_pipeline.export.assets import billing_export
from metering_pipeline.export.ledger import LEDGER, REVISIONS, ensure_ledger
from metering_pipeline.resources import CatalogResource
from metering_pipeline.resources.export_store import ExportStore
from metering_pipeline.warehouse.staging import staging, swap_partition
from metering_pipeline.warehouse.tables import USAGE_HOURLY, ensure_tables
from metering_pipeline_tests.support.s3_server import REGION, moto_server, s3  # noqa: F401

KEY = "2026-11-22-10:00"
HOUR = datetime(2026, 11, 22, 10, tzinfo=UTC)
PREFIX = "billing/v1"
USAGE_COLUMNS = [
    "hour",
    "tenant_id",
    "billing_account_id",
    "meter",
    "event_type",
    "aggregation",
    "unit",
    "dimensions",
    "value",
    "event_count",
    "bytes_ingested",
    "loaded_at",
]


def usage(tenant: str, meter: str = "gateway_requests", value="1", events: int = 1, dims=None, account: str = "") -> dict:
    return {
        "tenant_id": tenant,
        "meter": meter,
        "value": Decimal(value),
        "event_count": events,
        "dimensions": dims if dims is not None else {"service_id": "svc"},
        "billing_account_id": account,
    }


def set_usage(clickhouse, rows: list[dict], hour: datetime = HOUR) -> None:
    """Replace the hour of usage_hourly with `rows`, through the same staging swap the usage asset uses."""
    with clickhouse.get_client() as client:
        ensure_tables(client, USAGE_HOURLY)
        with staging(client) as area:
            staged = area.like(USAGE_HOURLY)
            if rows:
                client.insert(
                    staged,
                    [
                        [
                            hour,
                            r["tenant_id"],
                            r["billing_account_id"],
                            r["meter"],
                            "gateway.request",
                            "count",
                            "requests",
                            r["dimensions"],
                            r["value"],
                            r["event_count"],
                            0,
                            hour,
                        ]
                        for r in rows
                    ],
                    column_names=USAGE_COLUMNS,
                )
            swap_partition(client, USAGE_HOURLY, staged, hour)


def make_store(kind: str, tmp_path, bucket=None, **overrides) -> ExportStore:
    if kind == "local":
        return ExportStore(url=str(tmp_path / "export"), **overrides)
    return ExportStore(url=bucket.url(PREFIX), region=REGION, retry_base_seconds=0.01, retry_max_seconds=0.05, **overrides)


@pytest.fixture(params=["local", "s3"])
def export_store(request, tmp_path) -> ExportStore:
    bucket = request.getfixturevalue("s3") if request.param == "s3" else None
    return make_store(request.param, tmp_path, bucket)


def run_export(clickhouse, export_store: ExportStore, key: str = KEY, catalog=None, raise_on_error: bool = True):
    return dg.materialize(
        [billing_export],
        partition_key=key,
        resources={"clickhouse": clickhouse, "catalog": catalog or CatalogResource(), "export_store": export_store},
        raise_on_error=raise_on_error,
    )


def stored(export_store: ExportStore) -> dict[str, bytes]:
    """{key relative to the export root: bytes} of everything in the store."""
    store = export_store.open()
    return {key: store.get(key) for key in sorted(store.keys(""))}


def data_objects(objects: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in objects.items() if not k.startswith("_manifests/")}


def manifests(objects: dict[str, bytes]) -> dict[str, dict]:
    return {k: json.loads(v) for k, v in objects.items() if k.startswith("_manifests/")}


def records(objects: dict[str, bytes]) -> list[dict]:
    return [json.loads(line) for body in data_objects(objects).values() for line in body.decode().splitlines()]


def ledger(clickhouse) -> list[tuple]:
    with clickhouse.get_client() as client:
        ensure_ledger(client)
        return client.query(
            f"SELECT revision, meter, tenant_id, dimensions, quantity, event_count, object_key "
            f"FROM `{LEDGER}` FINAL ORDER BY revision, meter, tenant_id"
        ).result_rows


def revisions(clickhouse) -> list[int]:
    with clickhouse.get_client() as client:
        ensure_ledger(client)
        return [r for (r,) in client.query(f"SELECT revision FROM `{REVISIONS}` FINAL ORDER BY revision").result_rows]


def metadata(result) -> dict:
    [event] = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def checks(result) -> dict[str, bool]:
    """The billing_export checks of a run (other assets' checks left out)."""
    return {c.check_name: c.passed for c in result.get_asset_check_evaluations() if c.asset_key.to_user_string() == "billing_export"}


def totals(recs: list[dict]) -> dict[tuple, tuple[Decimal, int]]:
    """Sum over revisions per (tenant, account, meter, dimensions): the downstream view."""
    found: dict[tuple, tuple[Decimal, int]] = {}
    for r in recs:
        key = (r["tenant_id"], r["billing_account_id"], r["meter"], tuple(sorted(r["dimensions"].items())))
        quantity, events = found.get(key, (Decimal(0), 0))
        found[key] = (quantity + Decimal(r["quantity"]), events + r["event_count"])
    return {k: v for k, v in found.items() if v != (Decimal(0), 0)}
