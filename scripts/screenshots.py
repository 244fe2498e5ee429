"""Screenshots of the pages for the docs: the run list, a run and the admin, desktop and phone.

    .venv/bin/python scripts/screenshots.py http://127.0.0.1:8000 demo <password>

Signs in (the user must be staff for the admin), picks a run to show (a running one if
there is one, else the newest finished run with stages or failed rows, else the newest)
and saves docs/screenshots/{list,run,admin}-{desktop,mobile}.png at 1280x800 and 390x844.
At desktop size it also saves outcome-failures.png (the newest run that completed with
failures) and silent-run.png (a running run's page greyed out: the browser goes offline, so
no frame arrives, and the page says so; start a slow run first, e.g. make run's pipeline).
Point it at a local server only: it signs in with the password it is given. Chromium is
/usr/bin/chromium unless CHROMIUM says otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urljoin

from playwright.sync_api import Browser, Page, expect, sync_playwright

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "mobile": {"width": 390, "height": 844}}
TIMEOUT_MS = 20_000
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url", help="e.g. http://127.0.0.1:8000")
    parser.add_argument("username")
    parser.add_argument("password")
    parser.add_argument("--run", type=int, help="the run to show (default: picked, see above)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder (default {OUT})")
    args = parser.parse_args()
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).exists():
        sys.exit(f"{chromium} not found: apt-get install -y chromium (or set CHROMIUM)")
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            run_id = args.run
            for name, viewport in VIEWPORTS.items():
                page = signed_in(browser, args.base_url, args.username, args.password, viewport)
                run_id = run_id or pick_run(page)
                shoot_list(page, args.out / f"list-{name}.png")
                shoot_run(page, run_id, args.out / f"run-{name}.png")
                shoot_admin(page, args.out / f"admin-{name}.png")
                if name == "desktop":
                    shoot_failures(page, args.out / "outcome-failures.png")
                    shoot_silent(page, args.out / "silent-run.png")
                page.context.close()
        finally:
            browser.close()
    print(f"Saved the screenshots of run {run_id} in {args.out}")
    return 0


def signed_in(browser: Browser, base_url: str, username: str, password: str, viewport) -> Page:
    context = browser.new_context(
        base_url=base_url, viewport=viewport, device_scale_factor=1, color_scheme="light"
    )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(urljoin(base_url, "/accounts/login/?next=/progress/"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url("**/progress/")
    return page


def pick_run(page: Page) -> int:
    """A running run, else the newest finished run with stages or failed rows, else the newest."""
    response = page.request.get("/api/v1/operations/")
    if not response.ok:
        sys.exit(f"GET /api/v1/operations/ answered {response.status}: is {page.url} the app?")
    runs = response.json().get("results", [])
    if not runs:
        sys.exit("No runs to show: seed the database first (manage.py seed_demo)")
    for run in runs:
        if run["status"] == "running":
            return run["id"]
    for run in runs:
        meta = run.get("metadata") or {}
        if meta.get("stages") or meta.get("row_errors_total"):
            return run["id"]
    return runs[0]["id"]


def connected(page: Page) -> None:
    indicator = page.get_by_test_id("connection-state").first
    expect(indicator).to_have_attribute("data-connection-state", "connected")


def shoot_list(page: Page, path: Path) -> None:
    page.goto("/progress/")
    connected(page)
    page.screenshot(path=str(path))


def shoot_run(page: Page, run_id: int, path: Path) -> None:
    page.goto(f"/progress/{run_id}/")
    connected(page)
    # The chart, stage table and log come from the API after the page loads.
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(path))


def shoot_failures(page: Page, path: Path) -> None:
    """The newest run that completed with failures (badge, tab title, failed rows)."""
    runs = page.request.get("/api/v1/operations/?outcome=completed_with_failures").json()
    found = runs.get("results", [])
    if not found:
        print("No run completed with failures: skipped", path.name)
        return
    shoot_run(page, found[0]["id"], path)


def shoot_silent(page: Page, path: Path) -> None:
    """A running run's page once no frame has come for a while (the browser is offline)."""
    runs = page.request.get("/api/v1/operations/?status=running").json().get("results", [])
    if not runs:
        print("No running run: skipped", path.name)
        return
    page.goto(f"/progress/{runs[0]['id']}/")
    connected(page)
    page.context.set_offline(True)
    try:
        expect(page.locator("article.detail")).to_have_attribute(
            "data-silent", "true", timeout=30_000
        )
        page.screenshot(path=str(path))
    finally:
        page.context.set_offline(False)


def shoot_admin(page: Page, path: Path) -> None:
    response = page.goto("/admin/progress/operationprogress/")
    if response is None or not response.ok or "/login/" in page.url:
        sys.exit("The admin needs a staff login (the demo user 'demo' is staff)")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(path))


if __name__ == "__main__":
    raise SystemExit(main())
