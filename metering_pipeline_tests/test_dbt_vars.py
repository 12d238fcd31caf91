"""dbt vars, subprocess environment and the one profile: pure checks, no engine."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from metering_pipeline.catalog import load_catalog, parse_catalog
from metering_pipeline.dbt.resources import ADAPTER_PATH, DBT_PROJECT_DIR, dbt_env
from metering_pipeline.dbt.vars import catalog_vars, dbt_vars, window_vars
from metering_pipeline.dbt.vars import main as vars_main
from metering_pipeline.partitions import hour_window

UTC = UTC


def test_window_vars_from_a_partition():
    start, end = hour_window("2025-03-10-06:00")
    assert window_vars(start, end) == {"min_hour": "2025-03-10 06:00:00", "max_hour": "2025-03-10 07:00:00"}


def test_window_vars_for_a_range_across_midnight():
    start = datetime(2025, 3, 10, 22, tzinfo=UTC)
    assert window_vars(start, start + timedelta(hours=5)) == {
        "min_hour": "2025-03-10 22:00:00",
        "max_hour": "2025-03-11 03:00:00",
    }


def test_window_vars_convert_to_utc():
    start = datetime(2025, 3, 10, 7, tzinfo=timezone(timedelta(hours=1)))
    assert window_vars(start, start + timedelta(hours=1))["min_hour"] == "2025-03-10 06:00:00"


@pytest.mark.parametrize(
    "start, end",
    [
        (datetime(2025, 3, 10, 6), datetime(2025, 3, 10, 7)),  # naive
        (datetime(2025, 3, 10, 6, 30, tzinfo=UTC), datetime(2025, 3, 10, 7, tzinfo=UTC)),  # not on the hour
        (datetime(2025, 3, 10, 7, tzinfo=UTC), datetime(2025, 3, 10, 7, tzinfo=UTC)),  # empty
    ],
)
def test_window_vars_refuse_bad_windows(start, end):
    with pytest.raises(ValueError):
        window_vars(start, end)


def test_catalog_vars_carry_unique_meters_with_keys_and_dimensions():
    catalog = parse_catalog(
        {
            "sources": [{"name": "events", "format": "cloudevents"}],
            "meters": [
                {"name": "calls", "event_type": "api.call", "aggregation": "count", "unit": "calls"},
                {
                    "name": "users",
                    "event_type": "api.call",
                    "aggregation": "unique_count",
                    "unit": "users",
                    "value": '$.actor["it\'s id"]',
                    "group_by": {"region": "$.geo.region", "app": "$.app"},
                },
            ],
        }
    )
    assert catalog_vars(catalog) == {
        "meters": ["calls", "users"],
        "unique_meters": {
            "users": {
                "event_type": "api.call",
                "unit": "users",
                "value": ["actor", "it's id"],
                "dimensions": {"app": ["app"], "region": ["geo", "region"]},
            }
        },
    }
    start, end = hour_window("2025-03-10-06:00")
    assert json.loads(json.dumps(dbt_vars(start, end, catalog)))["unique_meters"]["users"]["value"] == ["actor", "it's id"]


def test_meters_have_no_default_in_dbt_project():
    """A manual run must pass the catalog's meters; a stale copy in dbt_project.yml would drift."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    assert project["vars"]["meters"] is None and project["vars"]["unique_meters"] is None


def test_vars_command_for_a_manual_run(capsys, monkeypatch):
    monkeypatch.delenv("METERING_CATALOG", raising=False)
    assert vars_main(["2025-03-10-22:00", "2025-03-11-01:00"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {
        "min_hour": "2025-03-10 22:00:00",
        "max_hour": "2025-03-11 02:00:00",
        **catalog_vars(load_catalog()),
    }


def test_dbt_env_puts_the_plugin_on_pythonpath_and_decodes_the_password():
    env = dbt_env("https://alice:p%40ss@ch.example.com:8443", "metering")
    assert env["PYTHONPATH"].split(":")[0] == str(ADAPTER_PATH)
    assert (ADAPTER_PATH / "dbt" / "adapters" / "chdb" / "__version__.py").exists()
    assert env["METERING_CLICKHOUSE_PASSWORD"] == "p@ss"
    assert "METERING_CLICKHOUSE_PASSWORD" not in dbt_env("chdb:///tmp/x", "metering")
    with pytest.raises(ValueError):
        dbt_env("ftp://host", "metering")


_RENDER_PROFILES = """
import json, os, sys
from argparse import Namespace
from dbt.flags import set_from_args
from dbt.config.runtime import load_profile
from dbt_common.context import set_invocation_context
profiles_dir = os.environ["DBT_PROFILES_DIR"]
set_from_args(Namespace(profiles_dir=profiles_dir), None)
for env in json.loads(sys.argv[1]):
    set_invocation_context({**os.environ, **env})
    profile = load_profile(profiles_dir, {}, None, None)
    c = profile.credentials
    print(json.dumps({"target": profile.target_name, "type": c.type, "schema": c.schema,
                      **{k: getattr(c, k, None) for k in ("host", "port", "user", "password", "secure", "path")}}))
"""


def _render_profiles(*settings: tuple[str, str]) -> list[dict]:
    """profiles.yml rendered by dbt itself for each (url, database), in one subprocess."""
    envs = [dbt_env(url, database) for url, database in settings]
    env = {**os.environ, "PYTHONPATH": envs[0]["PYTHONPATH"], "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR)}
    out = subprocess.run(
        [sys.executable, "-c", _RENDER_PROFILES, json.dumps(envs)],
        env=env,
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return [json.loads(row) for row in out.stdout.strip().splitlines()[-len(envs) :]]


def test_one_profile_picks_the_target_from_the_url(tmp_path):
    server, plain, embedded = _render_profiles(
        ("https://alice:p%40ss@ch.example.com:8443", "billing"),
        ("http://ch.local", "metering"),
        (f"chdb://{tmp_path}/ch", "metering"),
    )
    assert server == {
        "target": "clickhouse",
        "type": "clickhouse",
        "schema": "billing_analytics",
        "host": "ch.example.com",
        "port": 8443,
        "user": "alice",
        "password": "p@ss",
        "secure": True,
        "path": None,
    }
    assert (plain["host"], plain["port"], plain["user"], plain["secure"]) == ("ch.local", 8123, "default", False)
    assert (embedded["target"], embedded["type"], embedded["path"]) == ("chdb", "chdb", str(Path(tmp_path) / "ch"))
    assert embedded["schema"] == "metering_analytics"
