"""The run page in a real Chromium (issues 16 and 17): what it shows beyond the bar, and that
it stops looking live when the server goes silent. Real daphne, PostgreSQL and Redis."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from progress.models import OperationProgress, Status
from progress.publish.broadcast import operation_broadcast
from progress.runtime.writer import get_writer
from progress.testing import eventually
from progress.tracker import track_operation
from tests import test_browser
from tests.live import LiveStack

# One Chromium per module, and the ORM beside Playwright, as in the other browser tests.
_orm_beside_playwright = test_browser._orm_beside_playwright
browser = test_browser.browser
page_as = test_browser.page_as

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.browser,
]
log = logging.getLogger("tests.run_page")
# The server's heartbeat frame every 3 s arms the page's silence detection; allow a few.
HEARTBEAT_WAIT_MS = 10_000
# Records a page's browser notifications and window.focus() calls, and lets a test hide the
# tab: document.hidden / visibilityState follow window.__hidden.
NOTIFICATION_STUB = """
window.__notes = [];
window.__focusCalls = 0;
class StubNotification {
  static permission = 'granted';
  static requestPermission() { return Promise.resolve('granted'); }
  constructor(title, options = {}) {
    this.title = title;
    this.options = options;
    this.closed = false;
    window.__notes.push(this);
  }
  close() { this.closed = true; }
}
window.Notification = StubNotification;
window.focus = () => { window.__focusCalls += 1; };
window.__hidden = false;
Object.defineProperty(Document.prototype, 'hidden', {
  get: () => window.__hidden,
  configurable: true,
});
Object.defineProperty(Document.prototype, 'visibilityState', {
  get: () => (window.__hidden ? 'hidden' : 'visible'),
  configurable: true,
});
"""


@pytest.fixture
def stack(transactional_db):
    """daphne only: these runs are tracked by the test process or written directly."""
    live = LiveStack(worker=False)
    yield live
    live.stop()


@contextlib.contextmanager
def daphne_paused(stack: LiveStack):
    """SIGSTOP the stack's daphne (a server that hangs: sockets stay open, nothing is sent)."""
    assert stack.daphne is not None
    os.kill(stack.daphne.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(stack.daphne.pid, signal.SIGCONT)


def connected(page: Page) -> None:
    expect(page.get_by_test_id("connection-state").first).to_have_attribute(
        "data-connection-state", "connected"
    )


def live_run(user, **fields) -> OperationProgress:
    defaults = {
        "operation_name": "gene_import",
        "status": Status.RUNNING,
        "created_by": user,
        "total_items": 100,
        "current_item": 10,
        "progress_percentage": 10,
        "started_at": timezone.now(),
        "seq": 1,
    }
    return OperationProgress.objects.create(**{**defaults, **fields})


def publish(run: OperationProgress, **changes) -> None:
    """Change a run as a tracker would, with a higher seq, and broadcast it."""
    for name, value in changes.items():
        setattr(run, name, value)
    run.seq += 1
    run.save()
    operation_broadcast(run)


def test_log_lines_appear_live_on_the_run_page(browser, stack, curator):
    previous = log.level
    log.setLevel(logging.INFO)
    try:
        with track_operation("log_demo", total_items=10, user=curator) as tracker:
            tracker.update(current_item=1, force=True)
            page = page_as(browser, stack, curator)
            page.goto(f"/progress/{tracker.id}/")
            connected(page)
            expect(page.get_by_test_id("log")).not_to_contain_text("row 7 checked")
            lines = page.get_by_test_id("log").locator("li")
            # Logged once, right after the socket opened: before or after the socket joined
            # the run's log group, the line arrives (as a frame, or by the catch-up fetch
            # that follows the snapshot), once.
            log.info("row 7 checked")
            expect(lines.filter(has_text="row 7 checked")).to_have_count(1)
            log.warning("row 8 has no HGNC id")
            expect(lines.filter(has_text="row 8 has no HGNC id")).to_have_attribute(
                "data-level", "WARNING"
            )
            expect(lines.filter(has_text="row 8 has no HGNC id")).to_have_count(1)
            page.get_by_test_id("log-level").select_option("WARNING")
            expect(lines).to_have_count(1)
    finally:
        log.setLevel(previous)


def test_the_title_follows_progress_and_marks_the_end(browser, stack, curator):
    with track_operation("title_demo", total_items=100, user=curator) as tracker:
        tracker.update(current_item=25, force=True)
        page = page_as(browser, stack, curator)
        page.goto(f"/progress/{tracker.id}/")
        name = re.escape(f"title_demo #{tracker.id}")
        expect(page).to_have_title(re.compile(rf"^\[25%\] {name}"))
        tracker.update(current_item=60, force=True)
        expect(page).to_have_title(re.compile(rf"^\[60%\] {name}"))
    expect(page).to_have_title(re.compile(rf"^✓ {name}"))


def test_a_finished_runs_page_shows_its_whole_throughput_curve_and_stage_table(
    browser, stack, curator
):
    with track_operation("staged_demo", user=curator) as tracker:
        tracker.set_stages(["fetch", "check", "store"])
        for stage in ("fetch", "check", "store"):
            tracker.start_stage(stage, total_items=20)
            for item in range(1, 21):
                tracker.update(current_item=item, items_added=item, force=item % 5 == 0)
                time.sleep(0.02)  # 1.2 s in all: a run under 1 s gets no chart
    get_writer().drain()
    page = page_as(browser, stack, curator)
    page.goto(f"/progress/{tracker.id}/")
    expect(page.get_by_test_id("status")).to_have_text("Completed")
    line = page.locator("[data-testid=throughput-chart] .sparkline__line")
    expect(line).to_have_attribute("d", re.compile(r"^M"))
    expect(page.locator("[data-part=chart-caption]")).to_contain_text("over the run")
    # Axes (issue 24): the peak rate, and the run's time from its first to its last sample.
    expect(page.get_by_test_id("chart-peak")).to_have_text(re.compile(r"items/"))
    expect(page.get_by_test_id("chart-to")).to_have_text(re.compile(r"^\d+ s$"))
    rows = page.get_by_test_id("stage-results").locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(1).locator("th")).to_have_text("check")
    expect(rows.nth(1).locator("td").nth(0)).to_have_text("Completed")
    expect(page.get_by_test_id("average-rate")).not_to_have_text("—")
    # Timeline times carry seconds: short runs differ in them.
    expect(page.locator("[data-part=started-at]")).to_have_text(re.compile(r"\d:\d\d:\d\d"))


def test_a_run_that_took_under_a_second_says_so_instead_of_drawing_a_chart(browser, stack, curator):
    started = timezone.now() - timedelta(minutes=1)
    run = live_run(
        curator,
        status=Status.COMPLETED,
        started_at=started,
        completed_at=started + timedelta(milliseconds=400),
        samples=[[0, 0, 0], [0.2, 50, 50], [0.4, 100, 100]],
    )
    page = page_as(browser, stack, curator)
    page.goto(f"/progress/{run.pk}/")
    caption = page.locator("[data-part=chart-caption]")
    expect(caption).to_have_text("Took 0.4 s: too quick for a throughput chart.")
    expect(page.locator("[data-testid=throughput-chart] .sparkline")).to_be_hidden()


def test_a_run_ending_in_a_hidden_tab_notifies_once_and_the_notification_focuses_the_page(
    browser, stack, curator
):
    run = live_run(curator)
    page = page_as(browser, stack, curator)
    page.context.grant_permissions(["notifications"])
    page.add_init_script(NOTIFICATION_STUB)
    # As the list page's Start click leaves it: notify for this run without another click.
    page.goto("/progress/")
    page.evaluate(f"localStorage.setItem('progress-notify:{run.pk}', '1')")
    page.goto(f"/progress/{run.pk}/")
    connected(page)
    button = page.get_by_test_id("notify-button")
    expect(button).to_have_attribute("aria-pressed", "true")
    page.evaluate("window.__hidden = true; document.dispatchEvent(new Event('visibilitychange'))")
    publish(run, status=Status.COMPLETED, current_item=100, items_added=90, items_failed=10)
    # 10 of 100 items failed (issue 24): not a green ✓ "Completed" anywhere.
    expect(page.get_by_test_id("status")).to_have_text("Completed with 10 failures")
    badge = page.locator("[data-part=badge]")
    expect(badge).to_have_attribute("data-status", "completed_with_failures")
    expect(badge.locator(".badge__icon")).to_have_text("⚠")
    expect(page).to_have_title(
        re.compile(rf"^⚠ Completed with 10 failures: Import genes #{run.pk}")
    )
    page.wait_for_function("window.__notes.length === 1")
    title, body = page.evaluate("[window.__notes[0].title, window.__notes[0].options.body]")
    assert title == f"⚠ Completed with 10 failures: Import genes #{run.pk}"
    assert body.startswith("Completed with 10 failures.") and "10 failed" in body
    page.evaluate("window.__notes[0].onclick()")
    assert page.evaluate("window.__focusCalls") == 1
    assert page.evaluate("window.__notes[0].closed") is True
    # The wish is forgotten once the run ended.
    assert page.evaluate(f"localStorage.getItem('progress-notify:{run.pk}')") is None


def test_a_visible_tab_or_an_unwanted_run_gets_no_notification(browser, stack, curator):
    run = live_run(curator)
    page = page_as(browser, stack, curator)
    page.context.grant_permissions(["notifications"])
    page.add_init_script(NOTIFICATION_STUB)
    page.goto(f"/progress/{run.pk}/")
    connected(page)
    expect(page.get_by_test_id("notify-button")).to_have_attribute("aria-pressed", "false")
    publish(run, status=Status.FAILED, error_message="ValueError: broken")
    expect(page.get_by_test_id("status")).to_have_text("Failed")
    assert page.evaluate("window.__notes.length") == 0


def test_an_eta_from_past_runs_is_labelled_so(browser, stack, curator):
    now = timezone.now()
    for days in range(1, 4):
        OperationProgress.objects.create(
            operation_name="eta_demo",
            status=Status.COMPLETED,
            total_items=1000,
            current_item=1000,
            started_at=now - timedelta(days=days, seconds=100),
            completed_at=now - timedelta(days=days),
        )
    with track_operation("eta_demo", total_items=1000, user=curator) as tracker:
        eventually(lambda: tracker._past is not None and tracker._past.done(), 10, step=0.05)
        tracker.update(current_item=100, force=True)
        assert tracker.metadata.get("eta_source") == "history"
        page = page_as(browser, stack, curator)
        page.goto(f"/progress/{tracker.id}/")
        expect(page.get_by_test_id("eta")).to_have_text(re.compile(r"^About .* left$"))
        expect(page.get_by_test_id("eta-source")).to_have_text("from past runs")
        expect(page.get_by_test_id("eta-source")).to_be_visible()


def test_no_request_of_the_list_and_run_pages_fails(browser, stack, curator):
    run = live_run(curator, status=Status.COMPLETED, completed_at=timezone.now())
    page = page_as(browser, stack, curator)
    failed = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto("/progress/")
    connected(page)
    page.goto(f"/progress/{run.pk}/")
    connected(page)
    expect(page.get_by_test_id("status")).to_have_text("Completed")
    page.wait_for_load_state("networkidle")
    assert page.request.get("/favicon.ico").ok
    assert failed == []


def test_a_staged_runs_bar_keeps_the_overall_percent_apart_from_the_stage(browser, stack, curator):
    stage = {"index": 3, "count": 4, "name": "scoring", "unit": "curations"}
    run = live_run(
        curator,
        operation_name="curation_pipeline",
        total_items=276,
        current_item=0,
        progress_percentage=70,
        metadata={"stage": stage, "stages": ["refresh", "validate", "scoring", "summary"]},
    )
    page = page_as(browser, stack, curator)
    page.goto(f"/progress/{run.pk}/")
    bar = page.get_by_test_id("progress-bar")
    expect(bar).to_have_attribute(
        "aria-valuetext", "70% overall — stage 3 of 4: scoring, 0 of 276 curations"
    )
    publish(run, status=Status.CANCELLED, completed_at=timezone.now())
    expect(page.get_by_test_id("status")).to_have_text("Cancelled")
    # "0 of 276" next to "70 %" says which stage's items they are, and in what unit.
    expect(page.get_by_test_id("items-scope")).to_have_text("curations, in stage 3 of 4: scoring")


def test_the_run_page_shows_its_settings_and_offers_to_run_again(browser, stack, curator):
    run = live_run(
        curator,
        status=Status.COMPLETED,
        completed_at=timezone.now(),
        metadata={
            "pipeline": "gene_import",
            "parameters": {"file": "uploads/0f3a9c.csv", "scope": "kidney", "format": "auto"},
            "files": [{"name": "uploads/0f3a9c.csv", "label": "big-panel.csv", "kind": "upload"}],
        },
    )
    page = page_as(browser, stack, curator)
    page.goto(f"/progress/{run.pk}/")
    expect(page.get_by_test_id("owner")).to_have_text("curator")
    expect(page.get_by_test_id("setting-file")).to_have_text("big-panel.csv")
    expect(page.get_by_test_id("setting-file").locator("a")).to_have_attribute(
        "href", f"/progress/{run.pk}/files/0/"
    )
    expect(page.get_by_test_id("setting-scope")).to_have_text("kidney")
    expect(page.get_by_test_id("settings")).not_to_contain_text("0f3a9c")
    expect(page.get_by_test_id("run-again")).to_have_attribute(
        "href", "/progress/?start=gene_import&scope=kidney&format=auto#start-gene_import"
    )


def test_the_run_page_and_its_list_row_name_the_run_by_its_pipelines_title(browser, stack, curator):
    run = live_run(curator, status=Status.COMPLETED, completed_at=timezone.now())
    page = page_as(browser, stack, curator)
    page.goto(f"/progress/{run.pk}/")
    # Issue 24: "Import genes", the pipeline's title, not its machine name gene_import.
    expect(page.locator("h1")).to_have_text(f"Import genes #{run.pk}")
    expect(page).to_have_title(f"✓ Import genes #{run.pk} · Progress")
    page.goto("/progress/")
    expect(page.get_by_test_id(f"run-{run.pk}").locator("a.run__name")).to_have_text("Import genes")


def test_run_again_with_the_same_file_starts_a_new_run_with_the_stored_upload(
    browser, stack, curator
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from progress import files

    name = files.upload_save(SimpleUploadedFile("big-panel.csv", b"hgnc_id\n1100\n"))
    parameters = {"file": name, "scope": "kidney", "format": "auto"}
    upload = {"name": name, "label": "big-panel.csv", "kind": "upload"}
    run = live_run(
        curator,
        status=Status.COMPLETED,
        completed_at=timezone.now(),
        metadata={"pipeline": "gene_import", "parameters": parameters, "files": [upload]},
    )
    try:
        page = page_as(browser, stack, curator)
        page.goto(f"/progress/{run.pk}/")
        page.get_by_test_id("rerun-same-file").click()
        expect(page).not_to_have_url(re.compile(rf"/progress/{run.pk}/$"))
        again = OperationProgress.objects.exclude(pk=run.pk).get()
        expect(page).to_have_url(re.compile(rf"/progress/{again.pk}/$"))
        expect(page.get_by_test_id("setting-file")).to_have_text("big-panel.csv")
        expect(page.get_by_test_id("setting-scope")).to_have_text("kidney")
        # The new run has its own copy: pruning the old run never takes the new run's file.
        copy = again.metadata["parameters"]["file"]
        assert copy != name and files.storage().open(copy).read() == b"hgnc_id\n1100\n"
    finally:
        for run_ in OperationProgress.objects.all():
            for entry in files.run_files(run_.metadata):
                files.storage().delete(entry["name"])


def test_someone_who_may_not_start_the_pipeline_is_not_offered_to_run_again(browser, stack, viewer):
    run = live_run(
        viewer,
        status=Status.COMPLETED,
        completed_at=timezone.now(),
        metadata={"pipeline": "gene_import", "parameters": {"scope": "kidney"}},
    )
    page = page_as(browser, stack, viewer)
    page.goto(f"/progress/{run.pk}/")
    expect(page.get_by_test_id("setting-scope")).to_have_text("kidney")
    expect(page.get_by_test_id("run-again")).to_be_hidden()


def failures(count: int) -> list[dict]:
    return [
        {"line": i, "value": f"HGNC:{'x' * 30}{i}", "reason": "not an HGNC id (digits only)"}
        for i in range(1, count + 1)
    ]


def test_failed_rows_on_a_phone_are_readable_and_capped_until_show_all(browser, stack, curator):
    run = live_run(
        curator,
        status=Status.COMPLETED,
        completed_at=timezone.now(),
        items_failed=14,
        metadata={"row_errors": failures(14), "row_errors_total": 14},
    )
    page = page_as(browser, stack, curator)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/progress/{run.pk}/")
    rows = page.get_by_test_id("row-errors").locator("tbody tr")
    expect(rows).to_have_count(10)
    value = rows.first.locator("td").nth(1)
    box = value.bounding_box()
    assert box is not None and box["width"] > 250  # stacked: the whole width, not 37 px
    toggle = page.get_by_test_id("row-errors-toggle")
    expect(toggle).to_have_text("Show all 14")
    toggle.click()
    expect(rows).to_have_count(14)
    expect(toggle).to_have_attribute("aria-expanded", "true")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_new_failures_show_live_newest_first_in_view(browser, stack, curator):
    run = live_run(curator, metadata={"row_errors": failures(3), "row_errors_total": 3})
    page = page_as(browser, stack, curator)
    page.goto(f"/progress/{run.pk}/")
    rows = page.get_by_test_id("row-errors").locator("tbody tr")
    expect(rows).to_have_count(3)
    publish(run, metadata={"row_errors": failures(12), "row_errors_total": 12}, current_item=20)
    expect(rows).to_have_count(10)
    expect(rows.last.locator("td").first).to_have_text("12")
    expect(page.locator("[data-part=row-errors-note]")).to_have_text(
        "Showing the newest 10 of 12 row failures."
    )


def test_cancel_asks_for_a_second_click(browser, stack, curator):
    run = live_run(curator)
    page = page_as(browser, stack, curator)
    page.goto(f"/progress/{run.pk}/")
    button = page.get_by_test_id("cancel-button")
    button.click()
    expect(button).to_have_text("Confirm cancel")
    run.refresh_from_db()
    assert run.cancel_requested_at is None  # the first click only asks
    page.get_by_test_id("cancel-keep").click()
    expect(button).to_have_text("Cancel run")
    button.click()
    button.click()
    expect(page.locator("[data-part=status]")).to_have_text("Cancelling…")
    run.refresh_from_db()
    assert run.cancel_requested_at is not None


def test_a_silent_server_greys_the_run_out_and_the_page_recovers(browser, stack, curator):
    run = live_run(curator, estimated_completion=timezone.now() + timedelta(minutes=5))
    page = page_as(browser, stack, curator)
    page.goto(f"/progress/{run.pk}/")
    connected(page)
    article = page.locator("article.detail")
    # The server's heartbeat frames arm the page's silence detection.
    expect(article).to_have_attribute("data-heartbeats", "seen", timeout=HEARTBEAT_WAIT_MS)
    silence = page.get_by_test_id("silence")
    with daphne_paused(stack):
        expect(silence).to_contain_text(re.compile(r"No update for \d+ s"), timeout=20_000)
        expect(article).to_have_attribute("data-silent", "true")
        expect(page.get_by_test_id("connection-state").first).to_have_attribute(
            "data-connection-state", "silent"
        )
        eta = page.get_by_test_id("eta").text_content()
        elapsed = page.get_by_test_id("elapsed").text_content()
        first = silence.text_content() or ""
        expect(silence).not_to_have_text(first)  # the silence counts up...
        assert page.get_by_test_id("elapsed").text_content() == elapsed  # ...the run's clock not
        assert page.get_by_test_id("eta").text_content() == eta
    expect(article).not_to_have_attribute("data-silent", "true", timeout=30_000)
    expect(silence).to_be_hidden()
    connected(page)
    publish(run, current_item=50, progress_percentage=50)
    expect(page.get_by_test_id("current-item")).to_have_text("50")


def test_a_busy_pages_silence_shows_without_any_heartbeat(browser, stack, curator):
    """A run that updates every 0.3 s keeps its socket busy, so the server never needs a
    heartbeat frame there; when the server stops, the page must still grey out."""
    run = live_run(curator)
    stop = threading.Event()

    def keep_publishing() -> None:
        n = 10
        while not stop.is_set():
            n += 1
            publish(run, current_item=n % 100, progress_percentage=n % 100)
            time.sleep(0.3)

    publisher = threading.Thread(target=keep_publishing)
    publisher.start()
    try:
        page = page_as(browser, stack, curator)
        page.goto(f"/progress/{run.pk}/")
        connected(page)
        expect(page.get_by_test_id("current-item")).not_to_have_text("10")  # frames flow
        article = page.locator("article.detail")
        with daphne_paused(stack):
            expect(article).to_have_attribute("data-silent", "true", timeout=20_000)
            expect(page.get_by_test_id("connection-state").first).to_have_attribute(
                "data-connection-state", "silent"
            )
    finally:
        stop.set()
        publisher.join(10)
    expect(article).not_to_have_attribute("data-silent", "true", timeout=30_000)


def test_a_dropped_connection_greys_the_run_out_until_it_is_back(browser, stack, curator):
    run = live_run(curator, estimated_completion=timezone.now() + timedelta(minutes=5))
    page = page_as(browser, stack, curator)
    page.goto(f"/progress/{run.pk}/")
    connected(page)
    article = page.locator("article.detail")
    silence = page.get_by_test_id("silence")
    expect(silence).to_be_hidden()
    stack.kill_daphne()
    try:
        expect(silence).to_contain_text(re.compile(r"No update for \d+ s\. Reconnecting"))
        expect(article).to_have_attribute("data-silent", "true")
        elapsed = page.get_by_test_id("elapsed").text_content()
        first = silence.text_content() or ""
        expect(silence).not_to_have_text(first)  # the silence counts up, the run's clock not
        assert page.get_by_test_id("elapsed").text_content() == elapsed
    finally:
        stack.start_daphne()
    connected(page)
    expect(article).not_to_have_attribute("data-silent", "true")
    expect(silence).to_be_hidden()


def test_the_stage_table_follows_a_running_run(browser, stack, curator):
    with track_operation("staged_live", user=curator) as tracker:
        tracker.set_stages(["fetch", "store"])
        tracker.start_stage("fetch", total_items=20)
        tracker.update(current_item=5, force=True)
        page = page_as(browser, stack, curator)
        page.goto(f"/progress/{tracker.id}/")
        rows = page.get_by_test_id("stage-results").locator("tbody tr")
        expect(rows).to_have_count(2)
        items = rows.nth(0).locator("td").nth(1)
        expect(items).to_have_text("5 of 20")
        tracker.update(current_item=12, force=True)
        expect(items).to_have_text("12 of 20")  # live, not the figure fetched on load
        tracker.start_stage("store", total_items=10)
        tracker.update(current_item=1, force=True)
        expect(rows.nth(0).locator("td").nth(0)).to_have_text("Completed")
        expect(rows.nth(1).locator("td").nth(1)).to_have_text("1 of 10")


def test_the_files_a_run_made_are_offered_by_their_labels(browser, stack, curator):
    run = live_run(
        curator,
        status=Status.COMPLETED,
        completed_at=timezone.now(),
        metadata={
            "files": [
                {"name": "progress/uploads/0f3a9c.csv", "label": "big.csv", "kind": "upload"},
                {
                    "name": "progress/reports/77e1.csv",
                    "label": "Row errors: big.csv",
                    "kind": "report",
                },
            ],
        },
    )
    page = page_as(browser, stack, curator)
    page.goto(f"/progress/{run.pk}/")
    links = page.get_by_test_id("downloads").get_by_role("link")
    expect(links).to_have_count(1)  # the upload is under Settings, not a download of the run's
    expect(links).to_have_text("Download Row errors: big.csv")
    expect(links).to_have_attribute("href", f"/progress/{run.pk}/files/1/")
    expect(page.get_by_test_id("downloads")).not_to_contain_text("77e1")


def test_a_signed_out_page_stops_looking_live_and_offers_no_cancel(browser, stack, curator):
    from django.contrib.sessions.models import Session

    run = live_run(curator, estimated_completion=timezone.now() + timedelta(minutes=5))
    page = page_as(browser, stack, curator)
    page.goto(f"/progress/{run.pk}/")
    connected(page)
    Session.objects.all().delete()  # signed out elsewhere; the socket is refused on return
    stack.kill_daphne()
    stack.start_daphne()
    expect(page.get_by_test_id("connection-state").first).to_have_attribute(
        "data-connection-state", "refused"
    )
    expect(page.get_by_test_id("silence")).to_contain_text("You are signed out")
    expect(page.locator("article.detail")).to_have_attribute("data-silent", "true")
    expect(page.get_by_test_id("cancel-button")).to_be_disabled()


def test_an_open_page_is_told_it_is_signed_out_when_its_session_ends_elsewhere(
    browser, stack, curator
):
    from django.contrib.sessions.models import Session

    run = live_run(curator, estimated_completion=timezone.now() + timedelta(minutes=5))
    page = page_as(browser, stack, curator)
    page.goto(f"/progress/{run.pk}/")
    connected(page)
    Session.objects.all().delete()  # a logout in another process; daphne keeps running
    # The socket's session is re-checked every SOCKET_AUTH_RECHECK_SECONDS (5 s): 4001.
    expect(page.get_by_test_id("connection-state").first).to_have_attribute(
        "data-connection-state", "refused", timeout=15_000
    )
    expect(page.get_by_test_id("silence")).to_contain_text("You are signed out")
    expect(page.get_by_test_id("cancel-button")).to_be_disabled()


def test_a_silent_server_greys_the_lists_running_rows_stops_their_clocks_and_flags_nothing(
    browser, stack, curator
):
    # Usually 1 item/s, this one at 0.01/s: "Slower than usual" while the page is live.
    for _ in range(3):
        OperationProgress.objects.create(
            operation_name="gene_import",
            status=Status.COMPLETED,
            created_by=curator,
            total_items=10,
            current_item=10,
            rate=1.0,
            started_at=timezone.now() - timedelta(seconds=10),
            completed_at=timezone.now(),
        )
    run = live_run(curator, rate=0.01, started_at=timezone.now() - timedelta(minutes=3))
    page = page_as(browser, stack, curator)
    page.goto("/progress/")
    connected(page)
    row = page.get_by_test_id(f"run-{run.pk}")
    runs = page.locator("[data-run-list]")
    expect(row.get_by_test_id("slow")).to_be_visible()
    expect(runs).not_to_have_attribute("data-silent", "true")
    with daphne_paused(stack):
        expect(runs).to_have_attribute("data-silent", "true", timeout=20_000)
        expect(row.get_by_test_id("slow")).to_be_hidden()
        elapsed = row.get_by_test_id("elapsed").text_content()
        page.wait_for_timeout(2_500)  # two ticks of the page's clock
        assert row.get_by_test_id("elapsed").text_content() == elapsed
    expect(runs).not_to_have_attribute("data-silent", "true", timeout=30_000)
    expect(row.get_by_test_id("slow")).to_be_visible()
