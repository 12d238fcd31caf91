"""An injection corpus through every field that reaches SQL, a file or object key, or a log line.

Tenant ids, event ids and sources, dimension values, meter names and dimension names carry
SQL fragments, ClickHouse's own syntax (`{x:String}` parameters, `$$` heredocs, `\\G`),
quotes and backslashes, format strings, path traversal, forged log lines and unicode
look-alikes. They must come out as data: held verbatim in the tables and in the exported
records, never executed, never a path level, never a log line of their own. Names that
become identifiers or paths (sources, the database, the attribution table, partition keys)
are refused instead.
"""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from metering_pipeline.catalog import CatalogError, parse_catalog
from metering_pipeline.catalog.model import DEFAULT_CATALOG
from metering_pipeline.export.assets import billing_export
from metering_pipeline.export.layout import meter_name
from metering_pipeline.ingest.assets import ingest
from metering_pipeline.partitions import hour_start
from metering_pipeline.resources import CatalogResource, ClickHouseResource, LandingZone
from metering_pipeline.resources.export_store import ExportStore
from metering_pipeline.usage.assets import usage_hourly
from metering_pipeline.warehouse.tables import USAGE_HOURLY, ensure_tables
from metering_pipeline_tests.support.events import KEY, land, line, query
from metering_pipeline_tests.support.hour_snapshot import store_objects
from metering_pipeline_tests.support.s3_server import REGION

FORGED = "ok\n2026-11-22 10:00:00 +0000 - dagster - ERROR - forged log line"
PAYLOADS = [
    "'; DROP TABLE events; --",
    "' OR '1'='1",
    '" OR ""="',
    "`events`",
    "{x:String}",
    "{hour:DateTime('UTC')}",
    "$$",
    "$$; DROP TABLE usage_hourly; $$",
    "\\G",
    "\\",
    "\\'",
    "%s {0} {0!r} %(x)s %n",
    "../../../etc/passwd",
    "..\\..\\windows",
    "/abs/path",
    "a/b",
    "..",
    ".",
    "_manifests",
    "acme\u200b",
    "\u0430cme",
    "\u202eevil",
    "\u0000null",
    FORGED,
    "\x1b[31mred\x1b[0m",
    "x" * 1000,
]
METERS = [
    "../../escape",
    "..",
    ".",
    "_manifests",
    "_draft",
    "a/b/../../c",
    "%2e%2e%2fup",
    "{x:String}",
    "$$",
    "'; DROP TABLE usage_hourly; --",
    "..\\..\\win",
    "/abs",
    "gateway_requ\u0435sts",
    "x\u0000y",
    "~root",
    "meter\nnewline",
]


def catalog_with(tmp_path: Path, meters: list[dict]) -> CatalogResource:
    document = yaml.safe_load(DEFAULT_CATALOG.read_text(encoding="utf-8"))
    document["meters"] += meters
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return CatalogResource(path=str(path))


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@pytest.mark.slow
def test_hostile_values_and_meter_names_stay_data_and_stay_under_the_prefix(tmp_path, s3):
    root = tmp_path / "hour"
    landing_dir, export_dir = root / "landing", root / "export" / "billing"
    lines = [
        line(f"evt-{i}", subject=payload, source=payload, data={"service_id": payload, "bytes_sent": 1, "bytes_received": 1})
        for i, payload in enumerate(PAYLOADS)
    ]
    lines += [line(payload, subject="acme") for payload in PAYLOADS]  # hostile event ids
    land(landing_dir, "a.ndjson", lines)
    meters = [
        {
            "name": name,
            "event_type": "gateway.request",
            "aggregation": "count",
            "unit": "requests",
            "group_by": {"it's {dim:String} $$": '$["service_id"]'},
        }
        for name in METERS
    ]
    meters.append(
        {
            "name": "odd_value",
            "event_type": "gateway.request",
            "aggregation": "sum",
            "unit": "bytes",
            "value": '$["bytes_sent"]',
            "group_by": {"'; DROP": "$.service_id"},
        }
    )
    catalog = catalog_with(tmp_path, meters)
    clickhouse = ClickHouseResource(url=f"chdb://{root / 'ch'}")
    before = files_under(tmp_path)
    result = dg.materialize(
        [ingest, usage_hourly, billing_export],
        partition_key=KEY,
        resources={
            "clickhouse": clickhouse,
            "landing": LandingZone(url=str(landing_dir)),
            "catalog": catalog,
            "export_store": ExportStore(url=str(export_dir)),
        },
    )
    assert result.success

    # SQL: every payload is a value, verbatim; nothing was executed.
    assert {t for (t,) in query(clickhouse, "SELECT DISTINCT tenant_id FROM events")} == set(PAYLOADS) | {"acme"}
    assert {i for (i,) in query(clickhouse, "SELECT id FROM events WHERE tenant_id = 'acme'")} == set(PAYLOADS)
    assert {s for (s,) in query(clickhouse, "SELECT DISTINCT JSONExtractString(data, 'service_id') FROM events")} >= set(PAYLOADS)
    usage = query(clickhouse, "SELECT meter, dimensions FROM usage_hourly WHERE has({m:Array(String)}, meter)", m=METERS)
    assert {m for m, _ in usage} == set(METERS)
    assert {d["it's {dim:String} $$"] for _, d in usage} == set(PAYLOADS) | {"svc"}
    assert query(
        clickhouse,
        "SELECT count() FROM system.tables WHERE database = 'metering' AND name IN "
        "('events', 'usage_hourly', 'quarantine', 'export_ledger')",
    ) == [(4,)]

    # Files: everything new is under the landing, the warehouse or the export root; meter folders decode back.
    created = files_under(tmp_path) - before
    assert all(p.split("/")[:2] in (["hour", "ch"], ["hour", "export"]) or p in ("hour/ch.lock", "hour/export") for p in created), sorted(
        p for p in created if not p.startswith(("hour/ch", "hour/export/"))
    )
    objects, _ = store_objects(str(export_dir))
    folders = {key.split("/")[0] for key in objects if not key.startswith("_")}
    assert {meter_name(f) for f in folders} >= set(METERS)
    records = [json.loads(r) for key, body in objects.items() if not key.startswith("_manifests/") for r in body.splitlines()]
    assert {r["tenant_id"] for r in records if r["meter"] in METERS} == set(PAYLOADS) | {"acme"}
    assert {r["meter"] for r in records} >= set(METERS)

    # Logs: no payload became a log line of its own.
    messages = [e.message for e in result.all_events if e.message]
    assert not any("forged log line" in m for m in messages)

    # S3: the same usage exported under a prefix (from a fresh ledger, so every object is written); every key stays under it.
    with ClickHouseResource(url=f"chdb://{root / 'ch'}").get_client() as client:
        usage_rows = client.query("SELECT * FROM usage_hourly")
    with ClickHouseResource(url=f"chdb://{root / 'ch2'}").get_client() as client:
        ensure_tables(client, USAGE_HOURLY)
        client.insert(USAGE_HOURLY, usage_rows.result_rows, column_names=list(usage_rows.column_names))
    assert dg.materialize(
        [billing_export],
        partition_key=KEY,
        resources={
            "clickhouse": ClickHouseResource(url=f"chdb://{root / 'ch2'}"),
            "catalog": catalog,
            "export_store": ExportStore(url=s3.url("billing/v1"), region=REGION),
        },
    ).success
    keys = s3.keys()
    assert keys and all(k.startswith("billing/v1/") for k in keys)
    assert {meter_name(k.split("/")[2]) for k in keys if not k.split("/")[2].startswith("_")} >= set(METERS)


@pytest.mark.parametrize(
    "name",
    [
        "../x",
        "a/b",
        ".hidden",
        "..",
        "",
        "x y",
        "'; DROP TABLE events; --",
        "{x:String}",
        "$$",
        "a\\b",
        "evil\n",
        "\u0430cme",
        "-x",
        "x" * 129,
    ],
)
def test_hostile_source_names_are_refused(name):
    document = yaml.safe_load(DEFAULT_CATALOG.read_text(encoding="utf-8"))
    document["sources"][0]["name"] = name
    with pytest.raises(CatalogError, match="source name must match"):
        parse_catalog(document)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_source_name_the_catalog_accepts_is_one_plain_path_level(name):
    document = yaml.safe_load(DEFAULT_CATALOG.read_text(encoding="utf-8"))
    document["sources"][0]["name"] = name
    try:
        parse_catalog(document)
    except CatalogError:
        return
    assert "/" not in name and "\\" not in name and name not in (".", "..") and not name.startswith((".", "_", "-"))
    assert name.isascii() and name.strip() == name and "\x00" not in name


@pytest.mark.parametrize("table", ["x; DROP TABLE events", "a.b", "`x`", "{t:Identifier}", "1abc", "x y", "attribution\n"])
def test_hostile_attribution_table_names_are_refused(table):
    document = yaml.safe_load(DEFAULT_CATALOG.read_text(encoding="utf-8"))
    document["attribution"] = {"table": table}
    with pytest.raises(CatalogError, match="plain identifier"):
        parse_catalog(document)


@pytest.mark.parametrize("database", ["metering; DROP DATABASE metering", "`x`", "a.b", "../x", "{db:Identifier}", "", "metering\n"])
def test_hostile_database_names_are_refused(tmp_path, database):
    with pytest.raises(ValueError, match="plain identifier"):
        with ClickHouseResource(url=f"chdb://{tmp_path / 'ch'}", database=database).get_client():
            pass


HOSTILE_KEYS = [
    "2026-11-22-10:00'; DROP TABLE events; --",
    "2026-11-22-10:00 ",
    "../2026-11-22-10:00",
    "2026-11-22-10:00\n",
    "{hour:DateTime('UTC')}",
    "2026-13-22-10:00",
    "２０２６-11-22-10:00",
    "",
    # Dagster accepts these two (its time partitions parse leniently: 10:30 would run the hour 11:00);
    # the assets refuse them (partitions.run_partition_keys).
    "2026-11-22-10:30",
    "2026-11-22-9:00",
]


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_hostile_partition_keys_are_refused_before_any_sql(key, tmp_path, landing):
    with pytest.raises(ValueError):
        hour_start(key)
    resources = {"clickhouse": ClickHouseResource(url=f"chdb://{tmp_path / 'ch'}"), "landing": landing, "catalog": CatalogResource()}
    try:
        result = dg.materialize([ingest, usage_hourly], partition_key=key, resources=resources, raise_on_error=False)
    except dg.DagsterUnknownPartitionError:
        pass  # Dagster itself refused it
    else:
        assert not result.success
        [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        assert failure.step_key == "ingest"
    assert not (tmp_path / "ch").exists()  # refused before the warehouse was opened


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=24))
def test_hour_start_accepts_only_canonical_keys(key):
    try:
        start = hour_start(key)
    except ValueError:
        return
    assert start.strftime("%Y-%m-%d-%H:00") == key  # the only keys that pass are ones it would write itself


@pytest.mark.slow
def test_hostile_partition_from_the_cli_is_refused(tmp_path):
    """`2026-11-22-10:30` passes Dagster's own check (it would run 11:00); SQL-looking keys Dagster refuses itself (above)."""
    key = "2026-11-22-10:30"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "home"),
        "METERING_CLICKHOUSE_URL": f"chdb://{tmp_path / 'ch'}",
        "METERING_LANDING_URL": str(tmp_path / "landing"),
        "METERING_EXPORT_URL": str(tmp_path / "export"),
    }
    (tmp_path / "home").mkdir()
    completed = subprocess.run(
        [
            str(Path(sys.executable).with_name("dagster")),
            "asset",
            "materialize",
            "-m",
            "metering_pipeline.definitions",
            "--select",
            "*",
            "--partition",
            key,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = completed.stderr + completed.stdout
    assert completed.returncode != 0
    assert "hourly partition keys start on the hour: '2026-11-22-10:30'" in output, output[-2000:]
    assert not (tmp_path / "ch").exists() and not (tmp_path / "export").exists()  # refused before anything opened


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_the_late_file_sensor_refuses_hostile_keys_and_only_makes_canonical_ones(key, landing):
    """The sensor's keys come from the clock (sensors/window.py), never from landing paths; its landing
    listing goes through hour_start, which refuses anything else."""
    from metering_pipeline.catalog import load_catalog
    from metering_pipeline.sensors.changes import DEFAULT_LOOKBACK, hour_digest, lookback_keys

    with pytest.raises(ValueError):
        hour_digest(landing, load_catalog(), key)
    for made in lookback_keys(datetime(2026, 11, 22, 10, 41, tzinfo=UTC), DEFAULT_LOOKBACK):
        assert hour_start(made).strftime("%Y-%m-%d-%H:00") == made
