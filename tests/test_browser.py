"""End to end in a real Chromium: real daphne, db_worker, PostgreSQL and Redis."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator

import pytest
from django.test import Client
from playwright.sync_api import Browser, Page, expect, sync_playwright

from progress.models import OperationProgress, Status
from progress.testing import eventually
from tests.live import ARTIFACTS, CHROMIUM_ARGS, LiveStack, chromium_path

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.browser,
]
PANEL = "data/kidney-panels/cegat.json"
TIMEOUT_MS = 30_000
# Reconnects back off up to 20 s (with jitter), so waits are generous; they end as soon as
# the page shows the state.
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module", autouse=True)
def _orm_beside_playwright():
    """Playwright's sync API runs an event loop in this thread; the ORM calls here (and the
    test database flush) are plain blocking test code, which Django allows with this flag."""
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def stack(transactional_db):
    live = LiveStack()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def browser(_orm_beside_playwright) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def page_as(browser: Browser, stack: LiveStack, user, *, javascript: bool = True) -> Page:
    """A browser page already signed in as user (session cookie from Django's test client)."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(base_url=stack.url, java_script_enabled=javascript)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": stack.url}]
    )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def import_panel(stack: LiveStack, *, scope: str, user: str, pace: float | None = None):
    """Start `import_genes` on the cegat panel in its own process (paced to be watchable)."""
    args = ["import_genes", PANEL, "--scope", scope, "--user", user, "--no-bar"]
    if pace is not None:
        args += ["--pace", str(pace)]
    return stack.command(*args)


def wait_for_run(predicate, timeout: float = 30.0) -> OperationProgress:
    """The newest run that satisfies predicate, once there is one."""
    return eventually(
        lambda: next((r for r in OperationProgress.objects.order_by("-pk") if predicate(r)), None),
        timeout,
        step=0.05,
    )


def test_log_in_start_an_import_and_watch_it_reach_100_percent(browser, stack, curator):
    curator.set_password("correct horse battery")
    curator.save()
    page = browser.new_context(base_url=stack.url).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto("/progress/")
    page.fill("input[name=username]", "curator")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit], input[type=submit]")
    page.locator("details.pipeline summary", has_text="Import genes").click()
    form = page.get_by_test_id("start-gene_import")
    form.locator("input[type=file]").set_input_files(PANEL)
    form.locator("input[name=scope]").fill("browser")
    form.locator("button[type=submit], input[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/progress/\d+/$"))
    expect(page.get_by_test_id("status")).to_have_text("Completed")
    expect(page.get_by_test_id("progress-bar")).to_have_attribute("aria-valuenow", "100")
    expect(page.get_by_test_id("items-added")).to_have_text("288")
    expect(page.get_by_test_id("current-item")).to_have_text("288")
    expect(page.get_by_test_id("items-failed")).to_have_text("0")


def test_server_restart_mid_run_reconnects_and_shows_the_exact_final_state(browser, stack, curator):
    command = import_panel(stack, scope="restart", user="curator", pace=0.02)
    run = wait_for_run(lambda r: r.status == Status.RUNNING)
    page = page_as(browser, stack, curator)
    page.goto(f"/progress/{run.pk}/")
    expect(page.get_by_test_id("connection-state").first).to_have_attribute(
        "data-connection-state", "connected"
    )
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=current-item]').dataset.value"
        " ?? document.querySelector('[data-testid=current-item]').textContent) > 10"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "detail-mid-run.png"), full_page=True)
    stack.kill_daphne()
    expect(page.get_by_test_id("connection-state").first).to_have_attribute(
        "data-connection-state", re.compile("reconnecting|offline")
    )
    assert command.wait(60) == 0  # the run finishes while no server is up
    stack.start_daphne()
    expect(page.get_by_test_id("status")).to_have_text("Completed")
    final = OperationProgress.objects.get(pk=run.pk)
    expect(page.get_by_test_id("items-added")).to_have_text(str(final.items_added))
    expect(page.get_by_test_id("current-item")).to_have_text(str(final.current_item))
    expect(page.get_by_test_id("connection-state").first).to_have_attribute(
        "data-connection-state", "connected"
    )


def test_opening_a_finished_run_shows_its_final_state_at_once(browser, stack, curator):
    process = import_panel(stack, scope="later", user="curator")
    assert process.wait(60) == 0
    run = OperationProgress.objects.get()
    # "At once": in the page as served, before any script or socket (not a race with them).
    page = page_as(browser, stack, curator, javascript=False)
    page.goto(f"/progress/{run.pk}/")
    expect(page.get_by_test_id("status")).to_have_text("Completed")
    expect(page.get_by_test_id("items-added")).to_have_text("288")
    expect(page.get_by_test_id("progress-bar")).to_have_attribute("aria-valuenow", "100")


def test_another_users_run_is_not_visible(browser, stack, curator, viewer):
    process = import_panel(stack, scope="private", user="curator")
    assert process.wait(60) == 0
    run = OperationProgress.objects.get()
    page = page_as(browser, stack, viewer)
    page.goto("/progress/")
    expect(page.get_by_test_id("connection-state").first).to_have_attribute(
        "data-connection-state", "connected"
    )
    expect(page.get_by_test_id(f"run-{run.pk}")).to_have_count(0)
    response = page.goto(f"/progress/{run.pk}/")
    assert response is not None and response.status == 404


def test_cancel_from_the_page_ends_the_run_cancelled(browser, stack, curator):
    import_panel(stack, scope="cancel", user="curator", pace=0.05)
    run = wait_for_run(lambda r: r.status == Status.RUNNING)
    page = page_as(browser, stack, curator)
    page.goto(f"/progress/{run.pk}/")
    button = page.get_by_test_id("cancel-button")
    button.click()
    expect(button).to_have_text("Confirm cancel")  # a second click confirms
    button.click()
    expect(page.get_by_test_id("status")).to_have_text("Cancelled")
    run.refresh_from_db()
    assert run.status == Status.CANCELLED
    assert 0 < run.current_item < 288


def test_list_page_shows_a_new_run_live_without_reload(browser, stack, curator):
    page = page_as(browser, stack, curator)
    page.goto("/progress/")
    expect(page.get_by_test_id("connection-state").first).to_have_attribute(
        "data-connection-state", "connected"
    )
    import_panel(stack, scope="live", user="curator")
    run = wait_for_run(lambda r: True)
    row = page.get_by_test_id(f"run-{run.pk}")
    expect(row).to_have_attribute("data-status", "completed")
    bar = row.get_by_test_id("progress-bar")
    expect(bar).to_have_attribute("role", "progressbar")
    expect(bar).to_have_attribute("aria-valuenow", "100")


def test_redis_restart_mid_run_page_catches_up_and_stays_live(browser, curator):
    """With the pub/sub layer the page's socket survives a Redis restart: the run's final
    state still arrives, and so do later runs (the subscription was restored)."""
    from tests.live import RedisServer

    redis = RedisServer()
    stack = LiveStack(worker=False, REDIS_URL=redis.url)
    try:
        command = import_panel(stack, scope="redis", user="curator", pace=0.03)
        run = wait_for_run(lambda r: r.status == Status.RUNNING)
        page = page_as(browser, stack, curator)
        page.goto("/progress/")
        expect(page.get_by_test_id("connection-state").first).to_have_attribute(
            "data-connection-state", "connected"
        )
        redis.kill()
        time.sleep(1.5)  # the outage: Redis stays down this long (nothing is asserted on it)
        redis.start()
        assert command.wait(60) == 0
        final = OperationProgress.objects.get(pk=run.pk)
        assert final.status == Status.COMPLETED
        row = page.get_by_test_id(f"run-{run.pk}")
        expect(row).to_have_attribute("data-status", "completed")
        expect(row.get_by_test_id("progress-bar")).to_have_attribute("aria-valuenow", "100")
        # A new run after the outage streams live: nothing needed a reload or a resync.
        second = import_panel(stack, scope="after", user="curator", pace=0.02)
        later = wait_for_run(lambda r: r.pk != run.pk and r.status == Status.RUNNING)
        expect(page.get_by_test_id(f"run-{later.pk}")).to_have_attribute("data-status", "running")
        assert second.wait(60) == 0
        expect(page.get_by_test_id(f"run-{later.pk}")).to_have_attribute("data-status", "completed")
    finally:
        stack.stop()
        redis.stop()


def test_vue_demo_page_reaches_100_percent_and_the_store_resyncs_after_a_drop(
    browser, stack, curator
):
    page = page_as(browser, stack, curator)
    page.goto("/progress/vue/")
    state = page.get_by_test_id("vue-connection-state")
    expect(state).to_have_attribute("data-state", "connected")
    command = import_panel(stack, scope="vue", user="curator", pace=0.02)
    run = wait_for_run(lambda r: r.status == Status.RUNNING)
    card = page.get_by_test_id(f"vue-run-{run.pk}")
    expect(card).to_have_attribute("data-status", "running")
    # The row links to the run's page and says what it read (frames name the file).
    link = page.get_by_test_id(f"vue-row-{run.pk}").get_by_test_id("vue-run-link")
    expect(link).to_have_attribute("href", f"/progress/{run.pk}/")
    stack.kill_daphne()  # drop every socket mid-run
    expect(state).to_have_attribute("data-state", re.compile("reconnecting|offline"))
    assert command.wait(60) == 0
    stack.start_daphne()
    expect(state).to_have_attribute("data-state", "connected")
    expect(card).to_have_attribute("data-status", "completed")
    expect(card.get_by_test_id("progress-bar")).to_have_attribute("aria-valuenow", "100")
    expect(card.get_by_test_id("items-added")).to_have_attribute("data-value", "288")
    expect(card.get_by_test_id("current-item")).to_have_attribute("data-value", "288")


def test_the_run_page_loads_row_errors_from_the_api_live_and_hides_the_traceback_from_owners(
    browser, stack, curator
):
    from progress.publish.broadcast import operation_broadcast

    def failure(line):
        return {"line": line, "value": f"HGNC:x{line}", "reason": "not an HGNC id"}

    run = OperationProgress.objects.create(
        operation_name="gene_import",
        status=Status.RUNNING,
        created_by=curator,
        total_items=10,
        current_item=2,
        seq=2,
        metadata={"row_errors": [failure(1)], "row_errors_total": 1, "traceback": "secret"},
    )
    page = page_as(browser, stack, curator)
    page.goto(f"/progress/{run.pk}/")
    rows = page.get_by_test_id("row-errors").locator("tbody tr")
    expect(rows).to_have_count(1)  # not in the live frame: fetched from the API on load
    run.metadata = {**run.metadata, "row_errors": [failure(1), failure(2)], "row_errors_total": 2}
    run.current_item, run.seq = 3, 3
    run.save()
    operation_broadcast(run)
    expect(rows).to_have_count(2)  # row_errors_total grew: fetched again while running
    run.status, run.seq, run.error_message = Status.FAILED, 4, "ValueError: the file is broken"
    run.save()
    operation_broadcast(run)
    expect(page.get_by_test_id("status")).to_have_text("Failed")
    expect(page.get_by_test_id("error-message")).to_have_text("ValueError: the file is broken")
    expect(page.locator("[data-part=traceback]")).to_be_hidden()


def test_run_page_title_follows_progress_then_shows_history_and_log(browser, stack, curator):
    command = import_panel(stack, scope="extras", user="curator", pace=0.02)
    run = wait_for_run(lambda r: r.status == Status.RUNNING)
    page = page_as(browser, stack, curator)
    page.goto(f"/progress/{run.pk}/")
    name = re.escape(f"Import genes #{run.pk}")
    expect(page).to_have_title(re.compile(rf"^\[\d+%\] {name}"))
    assert command.wait(60) == 0
    expect(page.get_by_test_id("status")).to_have_text("Completed")
    expect(page).to_have_title(re.compile(rf"^✓ {name}"))
    # The whole run's throughput from its stored samples, and its averages.
    expect(page.get_by_test_id("run-averages")).to_be_visible()
    expect(page.get_by_test_id("average-rate")).not_to_have_text("—")
    line = page.locator("[data-testid=throughput-chart] .sparkline__line")
    expect(line).to_have_attribute("d", re.compile(r"^M"))
    # The import logs its outcome inside the tracked block (not a line per batch).
    expect(page.get_by_test_id("log")).to_contain_text(re.compile(r"Imported \S+: \d+ added"))
    page.get_by_test_id("log-level").select_option("ERROR")
    expect(page.get_by_test_id("log").locator("li")).to_have_count(0)
    assert page.request.get("/favicon.ico").ok
