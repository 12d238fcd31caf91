"""Drive the Dagster UI in headless Chromium: materialize every asset for a range of hours as a backfill.

Selectors are the UI's visible roles and texts (Dagster 1.13): the global lineage page's
"Materialize all" button opens the launch dialog, whose partition box takes a range like
`[2026-11-22-10:00...2026-11-22-12:00]` (it shows the last 90 days, so the hours must be recent),
and its "Launch backfill" button starts it.
"""

from contextlib import contextmanager

from playwright.sync_api import expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


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
