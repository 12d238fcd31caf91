"""Drive the Dagster UI in headless Chromium: materialize every asset for a range of hours as a backfill.

Selectors are the UI's visible roles and texts (Dagster 1.13): the global lineage page's
"Materialize all" button opens the launch dialog, whose partition box takes a range like
`[2026-11-22-10:00...2026-11-22-12:00]` (it shows the last 90 days, so the hours must be recent),
and its "Launch backfill" button starts it.

The backfill is then followed through the webserver's GraphQL API (public, what the UI
itself reads), not through Dagster's private backfill classes.
"""

import json
import os
import urllib.request
from contextlib import contextmanager

import pytest
from playwright.sync_api import expect, sync_playwright

CHROMIUM = os.environ.get("METERING_CHROMIUM") or "/usr/bin/chromium"  # Debian's; .ci/run installs it
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Terminal states of GraphQL's BulkActionStatus (REQUESTED, CANCELING and FAILING are not).
BACKFILL_DONE = frozenset({"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"})
BACKFILL_TAG = "dagster/backfill"  # set by Dagster on every run a backfill launches


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require_chromium() -> None:
    """Skip without Chromium on a developer's machine; fail in CI (CI=true), where it must run."""
    if os.path.exists(CHROMIUM):
        return
    message = f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does) or set METERING_CHROMIUM"
    if in_ci():
        pytest.fail(f"CI=true and {message}. The browser backfill test must run in CI, not skip.", pytrace=False)
    pytest.skip(message)


@contextmanager
def browser_page():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def launch_backfill(page, base: str, keys: list[str]) -> None:
    page.goto(f"{base}/asset-groups")
    page.get_by_role("button", name="Materialize all").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Launch runs to materialize")).to_be_visible()
    dialog.get_by_text("Custom", exact=True).click()
    box = dialog.locator("input[type='text']").first  # prefilled with the missing range on a fresh instance
    box.fill(f"[{keys[0]}...{keys[-1]}]")
    box.press("Enter")
    expect(dialog.get_by_text(f"{len(keys)} partitions", exact=True)).to_be_visible()
    dialog.get_by_role("button", name="Launch backfill").click()
    expect(dialog).to_be_hidden()


def show_backfill(page, base: str, backfill_id: str, screenshot) -> None:
    page.goto(f"{base}/runs/b/{backfill_id}")
    expect(page.get_by_text("Succeeded").first).to_be_visible()
    page.screenshot(path=str(screenshot), full_page=True)


def graphql(base: str, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.loads(response.read())
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return body["data"]


def _results(answer: dict, what: str) -> list[dict]:
    if "results" not in answer:
        raise RuntimeError(f"{what}: {answer.get('__typename')}: {answer.get('message')}")
    return answer["results"]


BACKFILLS_QUERY = """query {
  partitionBackfillsOrError { __typename ... on PartitionBackfills { results { id status } } ... on PythonError { message } }
}"""
RUNS_QUERY = """query ($tags: [ExecutionTag!]) {
  runsOrError(filter: {tags: $tags}) { __typename ... on Runs { results { runId status } } ... on PythonError { message } }
}"""


def backfills(base: str) -> list[dict]:
    """[{"id", "status"}] of the instance's backfills, newest first; status is GraphQL's BulkActionStatus name."""
    return _results(graphql(base, BACKFILLS_QUERY)["partitionBackfillsOrError"], "backfills")


def backfill_run_statuses(base: str, backfill_id: str) -> list[str]:
    """DagsterRunStatus names of the runs the backfill launched."""
    answer = graphql(base, RUNS_QUERY, {"tags": [{"key": BACKFILL_TAG, "value": backfill_id}]})["runsOrError"]
    return [run["status"] for run in _results(answer, "runs")]
