"""Everything an hour leaves behind, as comparable data: every table's rows and every exported object's bytes.

A snapshot reads the real warehouse and the real store after a run:

- every table of the pipeline database and of its dbt database (`<db>_analytics`), views
  left out (they are queries over the tables) and so is the run history (`pipeline_runs`,
  one row per run by design), with wall-clock columns (`loaded_at`,
  `exported_at`, `committed_at`, `recorded_at`; `fired_at`, `last_attempt_at` and the
  time_ns `version` of usage_alerts) left out and rows sorted, so two runs of the same hour
  at different moments compare equal;
- every object under the export root (local directory or `s3://bucket/prefix`), key
  relative to the root -> bytes, manifests included, so a local and an S3 export of the
  same hour compare equal.

What a killed run may leave and that must not affect results is listed apart as
`leftovers`: staging tables (`_stage_*`, dropped by age later), dbt's temporary relations
(`*__dbt_tmp`, `*__dbt_backup`, `*__dbt_new_data*`) and the local store's temp files
(`.tmp-*`, never listed by the store). Rows are compared without FINAL (a record
inserted twice into a ReplacingMergeTree is a difference even if FINAL would hide it),
except usage_alerts, whose rows are versioned by design.
"""

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import boto3

from metering_pipeline.resources import ClickHouseResource
from metering_pipeline.resources.export_store import TEMP_PREFIX
from metering_pipeline.resources.s3 import split_s3_url
from metering_pipeline.warehouse.staging import STAGING_PREFIX

WALL_CLOCK = ("loaded_at", "exported_at", "committed_at", "recorded_at")
WALL_CLOCK_BY_TABLE = {"usage_alerts": ("fired_at", "last_attempt_at", "version")}  # version is time.time_ns()
READ_FINAL = ("usage_alerts",)  # versioned by design (pending -> delivered): compare the current version
DBT_TEMPORARY = ("__dbt_tmp", "__dbt_backup", "__dbt_new_data")
VIEWS = ("View", "MaterializedView", "LiveView")
# The run history records every run by design (a killed run and its rerun are two histories of one hour).
HISTORY = ("pipeline_runs",)


@dataclass
class Snapshot:
    tables: dict[str, list[str]] = field(default_factory=dict)  # "db.table" -> sorted canonical rows
    objects: dict[str, bytes] = field(default_factory=dict)  # key relative to the export root -> bytes
    leftovers: list[str] = field(default_factory=list)

    def summary(self) -> str:
        rows = sum(len(r) for r in self.tables.values())
        return f"{len(self.tables)} tables, {rows} rows, {len(self.objects)} objects, {len(self.leftovers)} leftovers"


def canonical(value) -> str:
    """A stable text for one value: maps by sorted key, floats by repr, everything else by repr."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{canonical(k)}: {canonical(v)}" for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(canonical(v) for v in value) + "]"
    if isinstance(value, (Decimal, datetime, date, UUID, int, float, str, bytes, bool)) or value is None:
        return repr(value)
    return repr(value)


def warehouse_tables(client, databases: tuple[str, ...]) -> tuple[dict[str, list[str]], list[str]]:
    tables, leftovers = {}, []
    listed = client.query(
        "SELECT database, name, engine FROM system.tables WHERE has({dbs:Array(String)}, database) ORDER BY database, name",
        parameters={"dbs": list(databases)},
    ).result_rows
    for database, name, engine in listed:
        if name.startswith(STAGING_PREFIX) or any(marker in name for marker in DBT_TEMPORARY):
            leftovers.append(f"table {database}.{name}")
            continue
        if engine in VIEWS or name in HISTORY:
            continue
        columns = [
            c
            for (c,) in client.query(
                "SELECT name FROM system.columns WHERE database = {d:String} AND table = {t:String} ORDER BY position",
                parameters={"d": database, "t": name},
            ).result_rows
            if c not in WALL_CLOCK + WALL_CLOCK_BY_TABLE.get(name, ())
        ]
        select = ", ".join(f"`{c}`" for c in columns)
        final = " FINAL" if name in READ_FINAL else ""
        rows = client.query(f"SELECT {select} FROM `{database}`.`{name}`{final}").result_rows
        tables[f"{database}.{name}"] = sorted(canonical(tuple(row)) for row in rows)
    return tables, leftovers


def store_objects(url: str, endpoint: str | None = None) -> tuple[dict[str, bytes], list[str]]:
    """{key relative to the root: bytes} of everything in a local directory or under an S3 prefix.

    `endpoint` reads S3 straight from the server (past any fault proxy AWS_ENDPOINT_URL names).
    """
    if url.startswith("s3://"):
        bucket, root = split_s3_url(url)
        client = boto3.session.Session().client("s3", endpoint_url=endpoint)
        base = f"{root}/" if root else ""
        found = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base):
            for item in page.get("Contents", []):
                found[item["Key"][len(base) :]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        return found, []
    root = Path(url)
    found, leftovers = {}, []
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            if path.is_file():
                key = path.relative_to(root).as_posix()
                if path.name.startswith(TEMP_PREFIX):
                    leftovers.append(f"temp file {key}")
                else:
                    found[key] = path.read_bytes()
    return found, leftovers


def take_snapshot(clickhouse_url: str, export_url: str | None, database: str = "metering", endpoint: str | None = None) -> Snapshot:
    with ClickHouseResource(url=clickhouse_url, database=database, lock_timeout_seconds=120).get_client(purpose="snapshot") as client:
        tables, leftovers = warehouse_tables(client, (database, f"{database}_analytics"))
    objects, temp_files = store_objects(export_url, endpoint) if export_url else ({}, [])
    return Snapshot(tables, objects, leftovers + temp_files)


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:12]


def differences(reference: Snapshot, candidate: Snapshot, limit: int = 3) -> list[str]:
    """Human-readable differences of `candidate` from `reference`; empty when they are the same."""
    found = []
    for name in sorted(reference.tables.keys() - candidate.tables.keys()):
        found.append(f"table {name}: missing")
    for name in sorted(candidate.tables.keys() - reference.tables.keys()):
        found.append(f"table {name}: not in the reference ({len(candidate.tables[name])} rows)")
    for name in sorted(reference.tables.keys() & candidate.tables.keys()):
        want, got = Counter(reference.tables[name]), Counter(candidate.tables[name])
        if want != got:
            missing, extra = list((want - got).elements()), list((got - want).elements())
            found.append(
                f"table {name}: {len(reference.tables[name])} rows in the reference, {len(candidate.tables[name])} here; "
                f"{len(missing)} missing {[m[:160] for m in missing[:limit]]}, {len(extra)} extra {[e[:160] for e in extra[:limit]]}"
            )
    for key in sorted(reference.objects.keys() - candidate.objects.keys()):
        found.append(f"object {key}: missing")
    for key in sorted(candidate.objects.keys() - reference.objects.keys()):
        found.append(f"object {key}: not in the reference ({len(candidate.objects[key])} bytes)")
    for key in sorted(reference.objects.keys() & candidate.objects.keys()):
        if reference.objects[key] != candidate.objects[key]:
            found.append(f"object {key}: bytes differ (sha256 {_digest(reference.objects[key])} != {_digest(candidate.objects[key])})")
    return found
