"""Secrets never leave: not in logs, Dagster event metadata, exceptions, the run storage or exported files.

Known secret values go into the environment of the real CLI (`dagster asset materialize`,
multiprocess executor, a DAGSTER_HOME with its SQLite run and event storage and compute
logs): a ClickHouse password in METERING_CLICKHOUSE_URL (with characters that need
%-escaping), AWS_SECRET_ACCESS_KEY, and a token in METERING_ALERT_WEBHOOK_URL. Two runs fail
where those secrets are used: one against a ClickHouse server URL on a closed port (ingest,
and dbt, which gets the password as METERING_CLICKHOUSE_PASSWORD), one whose S3 export is
throttled to failure and whose alert webhook is down. Then every byte of output is searched:
stdout and stderr, everything under DAGSTER_HOME, the warehouse directory, the export, the
dbt target and log folders, for the raw and the %-encoded form of each secret.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import boto3
import pytest
import yaml

from metering_pipeline.partitions import hour_start
from metering_pipeline.samples import write_sample_hour
from metering_pipeline_tests.support.fault_proxy import Fault, FaultProxy
from metering_pipeline_tests.support.s3_server import REGION

pytestmark = pytest.mark.slow
KEY = "2026-11-22-10:00"
CH_PASSWORD = "chpw7Q3x/@:%+ secret"
AWS_SECRET = "awssk9Lm2wQ/VbN+secret"
WEBHOOK_TOKEN = "hooktok5Rv8secret"
SECRETS = {
    "ClickHouse password": [CH_PASSWORD, quote(CH_PASSWORD, safe=""), "chpw7Q3x"],
    "AWS secret key": [AWS_SECRET, quote(AWS_SECRET, safe=""), "awssk9Lm2"],
    "webhook token": [WEBHOOK_TOKEN, "hooktok5Rv8"],
}
INGEST = "accepted_events,quarantined_lines,dropped_duplicates,landed_files"
DBT_MODELS = (
    "usage_daily,usage_monthly,usage_by_service,quarantine_summary,tenant_usage_summary,"
    "stg_metering__events,stg_metering__quarantine,stg_metering__usage_hourly"
)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def materialize(env: dict, select: str, logs: Path, *extra: str) -> subprocess.CompletedProcess:
    completed = subprocess.run(
        [
            str(Path(sys.executable).with_name("dagster")),
            "asset",
            "materialize",
            "-m",
            "metering_pipeline.definitions",
            "--select",
            select,
            "--partition",
            KEY,
            *extra,
        ],
        env=env,
        capture_output=True,
        timeout=600,
    )
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "stdout").write_bytes(completed.stdout)
    (logs / "stderr").write_bytes(completed.stderr)
    return completed


def leaks(root: Path) -> list[str]:
    """(secret, file) for every secret form found in any file under `root`."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for name, forms in SECRETS.items():
            if any(form.encode() in data for form in forms):
                found.append(f"{name} in {path.relative_to(root)}")
    return found


def test_no_secret_in_any_log_metadata_error_or_file(tmp_path, moto_server):
    landing = tmp_path / "landing"
    write_sample_hour(landing, hour_start(KEY), events=200)
    (tmp_path / "home").mkdir()
    (tmp_path / "quotas.yaml").write_text(
        yaml.safe_dump({"quotas": [{"tenant": "acme", "meter": "gateway_requests", "quota": 1, "thresholds": [100]}]})
    )
    base = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "home"),
        "DBT_TARGET_PATH": str(tmp_path / "dbt-target"),
        "METERING_LANDING_URL": str(landing),
        "METERING_QUOTAS": str(tmp_path / "quotas.yaml"),
        "METERING_ALERT_WEBHOOK_URL": f"http://127.0.0.1:{closed_port()}/services/T000/B000/{WEBHOOK_TOKEN}",
        "AWS_ACCESS_KEY_ID": "AKIAHARDENINGTEST",
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }

    # 1. A ClickHouse server that refuses connections: the export (the same ClickHouseResource every step
    #    uses) and dbt (which gets the password as METERING_CLICKHOUSE_PASSWORD) fail, holding the password.
    server_url = f"http://metering:{quote(CH_PASSWORD, safe='')}@127.0.0.1:{closed_port()}"
    first = materialize(
        {**base, "METERING_CLICKHOUSE_URL": server_url, "METERING_EXPORT_URL": str(tmp_path / "export")},
        f"billing_export,{DBT_MODELS}",
        tmp_path / "logs-1",
    )
    output = (first.stdout + first.stderr).decode(errors="replace")
    assert first.returncode != 0
    assert "unreachable after 4 attempts" in output and "metering:***@127.0.0.1" in output  # it failed for the right reason
    assert 'Execution of step "metering_dbt_models" failed' in output and 'Execution of step "billing_export" failed' in output

    # 2. The embedded engine, an S3 export throttled to failure, an alert webhook that is down.
    with FaultProxy(moto_server.url, [Fault("PUT", "503")], max_seconds=300) as proxy:
        boto3.session.Session().client(
            "s3", endpoint_url=moto_server.url, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y"
        ).create_bucket(Bucket="secrets-export", CreateBucketConfiguration={"LocationConstraint": REGION})
        env = {
            **base,
            "AWS_ENDPOINT_URL": proxy.url,
            "METERING_CLICKHOUSE_URL": f"chdb://{tmp_path / 'ch'}",
            "METERING_EXPORT_URL": "s3://secrets-export/billing",
        }
        # In one process (the default executor starts a process per step, ~10 s each here); run 1 used the default.
        second = materialize(
            env,
            f"{INGEST},usage_hourly,usage_alerts,billing_export",
            tmp_path / "logs-2",
            "--config-json",
            '{"execution": {"config": {"in_process": {}}}}',
        )
    output = (second.stdout + second.stderr).decode(errors="replace")
    assert second.returncode != 0
    assert "failed after 6 attempts" in output and "SlowDown" in output  # the export failed where the key signs
    assert proxy.requests["PUT"] == 6
    assert "1 alert(s) pending delivery" in output  # the webhook was really tried

    # Everything the runs wrote: stdout/stderr, DAGSTER_HOME (SQLite storage, compute logs), warehouse, dbt logs.
    assert any((tmp_path / "home").rglob("*.db")) and any((tmp_path / "home" / "storage").rglob("*.err"))
    assert leaks(tmp_path) == []


def test_no_secret_in_what_the_engine_is_sent_when_it_reads_s3(tmp_path, s3, monkeypatch):
    """Engine-side reading (ingest/engine.py) hands the S3 landing zone to ClickHouse: the credentials must not travel
    in any statement, since a server keeps every statement's text in system.query_log.

    chDB has no system.query_log (UNKNOWN_TABLE), so every statement and its bound parameters are recorded at
    clickhouse-connect's client, which is what a server would receive and log; where the engine has a query log
    (a server), it is searched too.
    """
    import clickhouse_connect.driver.client as driver

    from metering_pipeline.catalog import load_catalog
    from metering_pipeline.ingest.hour import ingest_hour
    from metering_pipeline.resources import ClickHouseResource, LandingZone
    from metering_pipeline.samples import write_sample_hour as sample

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    local = tmp_path / "landing"
    sample(local, hour_start(KEY), events=50)
    for path in local.rglob("*.ndjson*"):
        s3.client().put_object(Bucket=s3.bucket, Key=f"landing/{path.relative_to(local)}", Body=path.read_bytes())
    sent = []
    for method in ("command", "query", "query_arrow", "raw_query"):
        original = getattr(driver.Client, method)

        def recording(self, *args, _original=original, **kwargs):
            sent.append(repr((args, kwargs)))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(driver.Client, method, recording)
    with ClickHouseResource(url=f"chdb://{tmp_path / 'ch'}").get_client() as client:
        report = ingest_hour(client, LandingZone(url=s3.url("landing"), region=s3.region), load_catalog(), hour_start(KEY), reader="s3")
        try:
            sent.append(repr(client.query("SELECT query FROM system.query_log").result_rows))
        except Exception as exc:
            assert "UNKNOWN_TABLE" in str(exc)  # chDB: no query log; the recorded statements stand for it
    assert report.engine_files == report.files > 0 and report.accepted > 0
    assert any("s3(" in statement for statement in sent)  # the engine really read S3
    assert not [s for s in sent if any(form in s for form in SECRETS["AWS secret key"])]
