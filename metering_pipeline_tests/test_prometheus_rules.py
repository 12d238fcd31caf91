"""The shipped alert rules pass Prometheus' own tools, and name only metrics the pipeline exposes."""

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from metering_pipeline.observability.metrics import METRICS
from metering_pipeline_tests.support.pushgateway import require_binary

RULES_DIR = Path(__file__).resolve().parents[1] / "deploy" / "prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
# Set by the Pushgateway itself on every group.
GATEWAY_METRICS = {"push_time_seconds"}


def _promtool(*args: str) -> subprocess.CompletedProcess:
    require_binary(PROMTOOL, "prometheus")
    return subprocess.run([PROMTOOL, *args], cwd=RULES_DIR, capture_output=True, text=True, timeout=120)


def test_promtool_check_rules():
    done = _promtool("check", "rules", "metering.rules.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


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
