"""The progress admin in a real Chromium (real daphne, db_worker, PostgreSQL and Redis):
what the browser shows, which the test client cannot see (layout, colours, live cells)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from progress.models import Status
from progress.tests.factories import OperationProgressFactory
from tests.test_browser import import_panel, page_as, wait_for_run

# The live stack and Chromium fixtures (stack, browser) of the browser tests.
pytest_plugins = ["tests.test_browser"]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.browser,
]
CHANGELIST = "/admin/progress/operationprogress/"
WIDTH = 1280

# WCAG contrast ratio of an element's text colour against a background colour
# ("rgb(r, g, b)" strings as getComputedStyle gives them).
CONTRAST_JS = """([fg, bg]) => {
  const lum = (c) => {
    const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
  return (hi + 0.05) / (lo + 0.05);
}"""


def admin_page(browser, stack, user) -> Page:
    page = page_as(browser, stack, user)
    page.set_viewport_size({"width": WIDTH, "height": 800})
    return page


def contrast(page: Page, foreground: str, background: str) -> float:
    return page.evaluate(CONTRAST_JS, [foreground, background])


def computed(page: Page, selector: str, prop: str) -> str:
    return page.eval_on_selector(selector, f"(el) => getComputedStyle(el).{prop}")


def test_the_progress_column_is_compact_and_live_and_nothing_is_pushed_off_at_1280px(
    browser, stack, admin_user
):
    for status in (Status.COMPLETED, Status.FAILED, Status.CANCELLED):
        OperationProgressFactory(
            created_by=admin_user,
            status=status,
            operation_name="curation_pipeline",
            current_item=1058,
            total_items=1513,
            progress_percentage=69.9,
        )
    command = import_panel(stack, scope="admin-live", user=admin_user.username, pace=0.01)
    run = wait_for_run(lambda r: r.status == Status.RUNNING)
    page = admin_page(browser, stack, admin_user)
    page.goto(CHANGELIST)
    cell = page.locator(f'.run-progress[data-run-id="{run.pk}"]')
    expect(cell).to_have_attribute("data-live", "true")
    # One source for the row: the cell's items and the badge follow the run to its end.
    assert command.wait(60) == 0
    expect(cell.locator(".run-progress__percent")).to_have_text("100%")
    expect(cell.locator(".run-progress__items")).to_have_text("288 of 288")
    expect(page.locator(f'.status-badge[data-run-id="{run.pk}"]')).to_have_text("Completed")
    expect(cell.locator("progress")).to_have_attribute("value", "100")
    # With the admin's navigation and filter sidebars open, every column is in view: the
    # results box does not scroll sideways and the table ends before the filter begins.
    fits = page.evaluate(
        "() => { const box = document.querySelector('#changelist-form .results');"
        " const table = document.querySelector('#result_list').getBoundingClientRect();"
        " const filter = document.querySelector('#changelist-filter').getBoundingClientRect();"
        " return {scroll: box.scrollWidth, client: box.clientWidth,"
        " right: table.right, filter: filter.left,"
        " page: document.documentElement.scrollWidth}; }"
    )
    assert fits["scroll"] <= fits["client"] and fits["right"] <= fits["filter"], fits
    assert fits["page"] <= WIDTH, fits
    page.screenshot(path="test-artifacts/admin-changelist.png", full_page=True)


def test_the_admin_header_keeps_the_admins_colours(browser, stack, admin_user):
    page = admin_page(browser, stack, admin_user)
    page.goto(CHANGELIST)
    expect(page.locator("#site-name a")).to_be_visible()
    # The pages' stylesheet (global link colour, tokens on :root) is not in the admin.
    assert page.locator('link[href*="progress/progress.css"]').count() == 0
    link = computed(page, "#site-name a", "color")
    header = computed(page, "#header", "backgroundColor")
    assert link != header
    # Large text (the site name): WCAG asks 3:1. With the pages' stylesheet loaded it was
    # about 1.1:1 (their --accent blue on the admin's blue header).
    assert contrast(page, link, header) >= 3
    # It is Django's own choice: the admin's --accent, unchanged by anything of ours.
    accent = page.evaluate(
        "() => { const probe = document.createElement('span');"
        " probe.style.color = 'var(--accent)'; document.body.append(probe);"
        " const c = getComputedStyle(probe).color; probe.remove(); return c; }"
    )
    assert link == accent == "rgb(245, 221, 93)"  # #f5dd5d in Django's base.css


def test_the_run_page_cancels_a_running_run_and_opens_its_live_page(browser, stack, admin_user):
    command = import_panel(stack, scope="admin-cancel", user=admin_user.username, pace=0.05)
    run = wait_for_run(lambda r: r.status == Status.RUNNING)
    page = admin_page(browser, stack, admin_user)
    page.goto(f"{CHANGELIST}{run.pk}/change/")
    expect(page.get_by_test_id("rerun-run")).to_have_count(0)
    page.get_by_test_id("cancel-run").click()
    expect(page).to_have_url(re.compile(rf"{CHANGELIST}{run.pk}/change/$"))
    expect(page.locator(".messagelist .success")).to_have_text(
        f"Cancel requested for run #{run.pk}."
    )
    # The live card on the page reaches the final state; the button is gone after a reload.
    card = page.locator(f'progress-operation[operation-id="{run.pk}"]')
    expect(card.get_by_test_id("status")).to_have_text("Cancelled")
    command.wait(60)
    page.reload()
    expect(page.get_by_test_id("cancel-run")).to_have_count(0)
    expect(page.get_by_test_id("rerun-run")).to_be_visible()
    page.get_by_test_id("open-live-page").click()
    expect(page).to_have_url(re.compile(rf"/progress/{run.pk}/$"))
    expect(page.get_by_test_id("status")).to_have_text("Cancelled")


def test_bulk_cancel_says_what_it_did_and_why_not_for_the_rest(browser, stack, admin_user):
    queued = OperationProgressFactory(created_by=admin_user, status=Status.QUEUED)
    done = [OperationProgressFactory(created_by=admin_user, status=Status.COMPLETED) for _ in "ab"]
    page = admin_page(browser, stack, admin_user)
    page.goto(CHANGELIST)
    for run in (queued, *done):
        page.locator(f'input.action-select[value="{run.pk}"]').check()
    page.select_option("select[name=action]", "cancel_runs")
    page.locator("button[name=index]").click()
    expect(page.locator(".messagelist .warning")).to_have_text(
        f"Cancel requested for 1 run. 2 were not cancelled: already completed "
        f"(#{done[0].pk}, #{done[1].pk})."
    )
    expect(page.locator(f'.status-badge[data-run-id="{queued.pk}"]')).to_have_text("Cancelled")


def test_badges_are_whole_and_readable_in_dark_mode(browser, stack, admin_user):
    for status in Status:
        OperationProgressFactory(created_by=admin_user, status=status, progress_percentage=50)
    page = admin_page(browser, stack, admin_user)
    page.emulate_media(color_scheme="dark")
    page.goto(CHANGELIST)
    badges = page.locator(".status-badge")
    expect(badges).to_have_count(len(Status))
    assert computed(page, "body", "backgroundColor") != "rgb(255, 255, 255)"  # dark theme on
    for badge in badges.all():
        size = badge.evaluate(
            "(el) => ({sh: el.scrollHeight, ch: el.clientHeight, sw: el.scrollWidth,"
            " cw: el.clientWidth, fg: getComputedStyle(el).color,"
            " bg: getComputedStyle(el).backgroundColor,"
            " inCell: (() => { const b = el.getBoundingClientRect(),"
            " c = el.closest('td, th').getBoundingClientRect();"
            " return b.top >= c.top && b.bottom <= c.bottom; })()})"
        )
        assert size["ch"] > 0 and size["sh"] <= size["ch"] and size["sw"] <= size["cw"], size
        assert size["inCell"], size
        assert contrast(page, size["fg"], size["bg"]) >= 4.5, size
    page.screenshot(path="test-artifacts/admin-changelist-dark.png", full_page=True)


def test_an_admin_re_run_of_a_curators_run_asks_first_and_stays_the_curators(
    browser, stack, admin_user, curator
):
    from curation.factories import ScopeFactory
    from progress.models import OperationProgress

    ScopeFactory(name="again")
    upload = {"name": "progress/uploads/877c.csv", "label": "big.csv", "kind": "upload"}
    OperationProgressFactory(
        created_by=admin_user,
        operation_name="gene_import",
        status=Status.COMPLETED,
        metadata={"parameters": {"file": upload["name"]}, "files": [upload]},
    )
    old = OperationProgressFactory(
        created_by=curator,
        operation_name="calculate_scores",
        status=Status.COMPLETED,
        total_items=200_000,
        metadata={"pipeline": "calculate_scores", "parameters": {"scope": "again"}},
    )
    page = admin_page(browser, stack, admin_user)
    page.goto(CHANGELIST)
    # The list page's search: by owner, by file, by id.
    for text, expected in (("curator", 1), ("big.csv", 1), (str(old.pk), 1)):
        page.fill("#searchbar", text)
        page.press("#searchbar", "Enter")
        expect(page.locator("#result_list tbody tr")).to_have_count(expected)
    page.fill("#searchbar", "curator")
    page.press("#searchbar", "Enter")
    page.check(f'input[name="_selected_action"][value="{old.pk}"]')
    page.select_option('select[name="action"]', "rerun_runs")
    page.locator('button[name="index"]').click()
    confirmation = page.get_by_test_id("rerun-confirmation")
    expect(confirmation).to_contain_text("200,000 items")
    assert OperationProgress.objects.count() == 2  # nothing started before the answer
    page.get_by_role("button", name="Yes, re-run 1 run").click()
    expect(page.locator(".messagelist")).to_contain_text(f"Re-ran 1 run (#{old.pk} as #")
    new = OperationProgress.objects.get(rerun_of=old)
    assert (new.created_by, new.rerun_by) == (curator, admin_user)
    page.goto(f"{CHANGELIST}{new.pk}/change/")
    expect(page.get_by_test_id("rerun-of")).to_have_text(f"#{old.pk}")
    # The curator, not "boss", owns it: it is on their run page, linked from the old run.
    own = page_as(browser, stack, curator)
    own.goto(f"/progress/{old.pk}/")
    own.get_by_test_id("rerun").click()
    expect(own).to_have_url(re.compile(rf"/progress/{new.pk}/$"))


def test_the_live_cells_grey_out_while_the_socket_is_down_and_come_back(browser, stack, admin_user):
    run = OperationProgressFactory(
        created_by=admin_user, status=Status.RUNNING, total_items=100, current_item=10
    )
    page = admin_page(browser, stack, admin_user)
    page.goto(CHANGELIST)
    table = page.locator("#result_list")
    expect(page.locator(f'.run-progress[data-run-id="{run.pk}"]')).to_have_attribute(
        "data-live", "true"
    )
    expect(table).not_to_have_attribute("data-silent", "")
    stack.kill_daphne()
    try:
        expect(table).to_have_attribute("data-silent", "")
    finally:
        stack.start_daphne()
    expect(table).not_to_have_attribute("data-silent", "", timeout=30_000)
