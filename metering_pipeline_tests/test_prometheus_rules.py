"""The shipped alert rules pass Prometheus' own tools, and name only metrics the pipeline exposes."""

import json
import logging
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from metering_pipeline.observability import Pushgateway
from metering_pipeline.observability.history import StepRecord, current_samples, record_steps
from metering_pipeline.observability.metrics import METRICS, ingest_samples
from metering_pipeline_tests.support.pushgateway import LoopbackServer, PushgatewayProcess, require_binary

RULES_DIR = Path(__file__).resolve().parents[1] / "deploy" / "prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
# Set by the Pushgateway itself on every group.
GATEWAY_METRICS = {"push_time_seconds"}


def _promtool(*args: str) -> subprocess.CompletedProcess:
    require_binary(PROMTOOL, "prometheus")
    return subprocess.run([PROMTOOL, *args], cwd=RULES_DIR, capture_output=True, text=True, timeout=120)


def test_promtool_check_rules():
    done = _promtool("check", "rules", "metering.rules.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_check_config():
    """The example configuration scrapes the gateway with honor_labels and loads the rules."""
    done = _promtool("check", "config", "prometheus.example.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 1 rule files found" in done.stdout


def test_promtool_test_rules():
    done = _promtool("test", "rules", "metering.rules.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_rules_name_only_metrics_the_pipeline_pushes():
    """A misspelt metric would make an alert silently never fire; promtool cannot see that."""
    rules = [r for g in yaml.safe_load((RULES_DIR / "metering.rules.yml").read_text())["groups"] for r in g["rules"]]
    recorded = {r["record"] for r in rules if "record" in r}
    exprs = [re.sub(r'"[^"]*"', '""', r["expr"]) for r in rules]  # label values (job="metering_pipeline") are not metrics
    named = {name for e in exprs for name in re.findall(r"\b(?:metering_[a-z_]+|push_time_seconds)\b", e)}
    assert named and named - set(METRICS) - GATEWAY_METRICS == set()
    used = {name for e in exprs for name in re.findall(r"\bmetering:[a-z_0-9:]+", e)}
    assert used <= recorded


def test_every_alert_is_unit_tested():
    rules = yaml.safe_load((RULES_DIR / "metering.rules.yml").read_text())["groups"]
    alerts = {r["alert"] for g in rules for r in g["rules"] if "alert" in r}
    tests = yaml.safe_load((RULES_DIR / "metering.rules.test.yml").read_text())["tests"]
    firing = {t["alertname"] for group in tests for t in group.get("alert_rule_test", []) if t.get("exp_alerts")}
    assert alerts and alerts == firing


def _stopped_pipeline_history(client, now: datetime) -> None:
    """The last export finished three hours ago; its ingest read 10 lines and accounted for 9."""
    hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)
    finished = now - timedelta(hours=3)
    figures = {"lines_read": 10, "accepted": 6, "duplicates": 1, "quarantined": 2, "quarantined_by_reason": {}, "events_by_type": {}}
    lost_line = {"files": 1, "bytes_read": 100, "by_source": {"events": figures}}
    steps = [
        StepRecord("r", "accepted_events", hour, hour, 1, finished - timedelta(minutes=2), finished, (), tuple(ingest_samples(lost_line))),
        StepRecord("r", "billing_export", hour, hour, 1, finished - timedelta(minutes=1), finished, (), ()),
    ]
    record_steps(client, steps, now)


@pytest.mark.slow
def test_a_real_prometheus_alerts_on_a_stopped_pipeline(tmp_path, clickhouse):
    """Debian's prometheus scrapes Debian's pushgateway holding what the pipeline pushed after its last run,
    three hours ago, with the example configuration's scrape settings and the shipped rules."""
    gateway = PushgatewayProcess(tmp_path)
    try:
        with clickhouse.get_client() as client:
            _stopped_pipeline_history(client, datetime.now(UTC))
            samples = current_samples(client)
        assert Pushgateway(url=gateway.url).push(samples, logging.getLogger(__name__))
        config = yaml.safe_load((RULES_DIR / "prometheus.example.yml").read_text())
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        config["rule_files"] = [str(RULES_DIR / "metering.rules.yml")]
        config["scrape_configs"][0]["static_configs"] = [{"targets": [f"127.0.0.1:{gateway.port}"]}]
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        require_binary(PROMETHEUS, "prometheus")
        prometheus = LoopbackServer(
            tmp_path,
            PROMETHEUS,
            "prometheus",
            [f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}"],
            "/-/ready",
        )
        try:
            expected = {
                ("MeteringNoSuccessfulHour", "pending"),
                ("MeteringExportLagging", "pending"),
                ("MeteringLinesNotReconciled", "firing"),
            }
            deadline = time.monotonic() + 120
            seen: dict = {}
            while time.monotonic() < deadline and not expected <= set(seen):
                alerts = json.loads(prometheus.get("/api/v1/alerts"))["data"]["alerts"]
                seen = {(a["labels"]["alertname"], a["state"]): a["labels"] for a in alerts}
                time.sleep(0.5)
        finally:
            prometheus.stop()
    finally:
        gateway.stop()
    assert expected <= set(seen), seen
    assert seen[("MeteringNoSuccessfulHour", "pending")]["job"] == "metering_pipeline"  # honor_labels kept the pushed job
    assert seen[("MeteringNoSuccessfulHour", "pending")]["asset"] == "billing_export"
    assert not any(name == "MeteringPushgatewayStale" for name, _ in seen)  # it was pushed just now


def test_grafana_dashboard_queries_parse_and_name_pushed_metrics(tmp_path):
    """Each panel's PromQL goes through promtool's parser (as a recording rule) and names known series only."""
    dashboard = json.loads((RULES_DIR.parent / "grafana" / "metering-pipeline.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:panel_{i}", "expr": e} for i, e in enumerate(exprs)]}]}
    (tmp_path / "dashboard.rules.yml").write_text(yaml.safe_dump(rules))
    done = _promtool("check", "rules", str(tmp_path / "dashboard.rules.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    recorded = {
        r["record"] for g in yaml.safe_load((RULES_DIR / "metering.rules.yml").read_text())["groups"] for r in g["rules"] if "record" in r
    }
    named = {n for e in exprs for n in re.findall(r"\b(?:metering_[a-z_]+|metering:[a-z_0-9:]+)", re.sub(r'"[^"]*"', '""', e))}
    assert exprs and named - set(METRICS) - recorded == set()
