"""The runs page in a real Chromium: paging, search, descriptions, start forms, small screens."""

# The fixtures are imported by name (pytest finds them here), so arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from curation.factories import ScopeFactory
from curation.models import Scope
from curation.scope_access import MAX_SCOPE_CHOICES
from progress.models import OperationProgress, Status
from progress.tests.factories import OperationProgressFactory
from tests.browser_helpers import browser, orm_beside_playwright, page_as, stack  # noqa: F401
from tests.live import ARTIFACTS

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.browser,
]
PANEL = "data/kidney-panels/cegat.json"
# An iPhone-sized screen: 390 css pixels wide, 844 high.
PHONE = {"width": 390, "height": 844}


def import_metadata(label: str, scope: str) -> dict:
    stored = f"uploads/{abs(hash((label, scope))):x}.csv"
    return {
        "pipeline": "gene_import",
        "parameters": {"file": stored, "scope": scope, "format": "auto"},
        "files": [{"name": stored, "label": label, "kind": "upload"}],
    }


# A scope source the pipeline can import quickly (relative to the project folder).
SMALL_PANEL = "data/kidney-panels/mvz_medicover.json"


def finished(user, **kwargs) -> OperationProgress:
    return OperationProgressFactory(created_by=user, status=Status.COMPLETED, **kwargs)


def connected(page: Page) -> None:
    expect(page.get_by_test_id("connection-state").first).to_have_attribute(
        "data-connection-state", "connected"
    )


def run_rows(page: Page, group: str = "recent"):
    return page.locator(f'[data-runs="{group}"] > li')


def test_older_links_page_through_all_45_runs(browser, stack, curator):
    runs = [finished(curator) for _ in range(45)]
    newest_first = [f"run-{run.pk}" for run in reversed(runs)]
    page = page_as(browser, stack, curator)
    page.goto("/progress/")
    connected(page)
    rows = run_rows(page)
    expect(rows).to_have_count(20)
    expect(rows.first).to_have_attribute("data-testid", newest_first[0])
    page.get_by_role("link", name="Older runs").click()
    expect(page).to_have_url(re.compile(r"before="))
    expect(rows).to_have_count(20)
    expect(rows.first).to_have_attribute("data-testid", newest_first[20])
    page.get_by_role("link", name="Older runs").click()
    expect(rows).to_have_count(5)
    expect(rows.last).to_have_attribute("data-testid", newest_first[44])
    expect(page.get_by_role("link", name="Older runs")).to_have_count(0)
    page.get_by_role("link", name="Newer runs").click()
    expect(rows.first).to_have_attribute("data-testid", newest_first[20])
    # The same pages without JavaScript: the server renders the rows and the links.
    plain = page_as(browser, stack, curator, java_script_enabled=False)
    plain.goto("/progress/")
    plain_rows = run_rows(plain)
    expect(plain_rows).to_have_count(20)
    plain.get_by_role("link", name="Older runs").click()
    expect(plain_rows).to_have_count(20)
    expect(plain_rows.first).to_have_attribute("data-testid", newest_first[20])
    expect(plain_rows.first.get_by_test_id("description")).to_have_text("Import genes, by curator")


def test_search_finds_runs_by_file_scope_and_owner_in_the_whole_history(
    browser, stack, curator, admin_user
):
    wanted = finished(curator, metadata=import_metadata("big.csv", "big-synthetic"))
    for _ in range(25):  # newer runs push the wanted one off the first page
        finished(admin_user, metadata=import_metadata("small.csv", "kidney"))
    page = page_as(browser, stack, admin_user)
    page.goto("/progress/")
    connected(page)
    expect(page.get_by_test_id(f"run-{wanted.pk}")).to_have_count(0)
    for search in ("big.csv", "big-synthetic", "curator"):
        page.get_by_role("searchbox", name="Search").fill(search)
        page.get_by_role("button", name="Search", exact=True).click()
        expect(page).to_have_url(re.compile(rf"q={re.escape(search)}"))
        expect(run_rows(page)).to_have_count(1)
        expect(page.get_by_test_id(f"run-{wanted.pk}")).to_be_visible()
    # Typing narrows what is loaded at once, and offers to ask the server.
    page.get_by_role("searchbox", name="Search").fill("nothing-like-this")
    expect(run_rows(page)).to_have_count(0)
    expect(page.get_by_role("link", name="Search all runs")).to_be_visible()


def test_rows_describe_their_runs_and_links_have_distinct_names(browser, stack, curator):
    runs = [
        finished(
            curator,
            operation_name="curation_pipeline",
            metadata={"pipeline": "curation_pipeline", "parameters": {"scope": scope}},
        )
        for scope in ("kidney", "heart", "kidney")
    ]
    page = page_as(browser, stack, curator)
    page.goto("/progress/")
    connected(page)
    for run, scope in zip(runs, ("kidney", "heart", "kidney"), strict=True):
        row = page.get_by_test_id(f"run-{run.pk}")
        description = f"Run curation pipeline — {scope}, by curator"
        expect(row.get_by_test_id("description")).to_have_text(description)
        expect(row.get_by_role("link")).to_have_accessible_name(
            f"Run curation pipeline #{run.pk} — {scope}, by curator"
        )
    names = page.locator("[data-runs] a.run__name").evaluate_all(
        "links => links.map(a => a.getAttribute('aria-label'))"
    )
    assert len(names) == 3 and len(set(names)) == 3


def test_a_new_run_arriving_live_keeps_a_description(browser, stack, curator):
    page = page_as(browser, stack, curator)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/progress/")
    connected(page)
    stack.command("import_genes", PANEL, "--scope", "live-desc", "--user", "curator", "--no-bar")
    row = page.locator('[data-runs] > li[data-testid^="run-"]').first
    # The frame names the pipeline and the file; the server adds the scope.
    description = "Import genes — cegat.json → live-desc, by curator"
    expect(row.get_by_test_id("description")).to_have_text(description)
    expect(row).to_have_attribute("data-status", "completed")
    expect(row.get_by_test_id("description")).to_have_text(description)
    link = row.get_by_role("link")
    inputs = "cegat.json → live-desc, by curator"
    expect(link).to_have_accessible_name(re.compile(rf"^Import genes #\d+ — {inputs}$"))
    assert errors == []


def test_on_a_phone_the_first_run_is_on_the_first_screen(browser, stack, curator):
    ScopeFactory(name="kidney")
    for _ in range(3):
        finished(curator, metadata=import_metadata("big.csv", "kidney"))
    page = page_as(browser, stack, curator, viewport=PHONE)
    page.goto("/progress/")
    connected(page)
    first = run_rows(page).first
    expect(first).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "list-phone.png"))
    box = first.bounding_box()
    assert box is not None and box["y"] + 40 <= PHONE["height"]  # its title line is on screen
    # The start forms are one tap away.
    page.get_by_role("link", name="Start a run").click()
    expect(page.locator("details.pipeline summary").first).to_be_in_viewport()


def test_usual_durations_show_and_a_much_slower_run_is_flagged(browser, stack, curator):
    now = timezone.now()
    for seconds in (50, 60, 70):
        finished(
            curator,
            started_at=now - timedelta(hours=1),
            completed_at=now - timedelta(hours=1) + timedelta(seconds=seconds),
        )
    # Slower by rate: the finished runs did 10 items in about a minute (0.17 items/s).
    slow = OperationProgressFactory(
        created_by=curator, started_at=now - timedelta(minutes=3), heartbeat_at=now, rate=0.05
    )
    page = page_as(browser, stack, curator)
    page.goto("/progress/")
    connected(page)
    expect(page.get_by_test_id("typical-durations")).to_contain_text("Import genes")
    expect(page.get_by_test_id("typical-durations")).to_contain_text("1 min")
    row = page.get_by_test_id(f"run-{slow.pk}")
    expect(row.get_by_test_id("usual")).to_have_text("Usually 1 min")
    expect(row.get_by_test_id("slow")).to_have_text("Slower than usual")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "list-desktop.png"), full_page=True)


def open_start_form(page: Page, title: str):
    details = page.locator("details.pipeline", has=page.locator("summary", has_text=title))
    summary = details.locator("summary")
    expect(summary).to_have_attribute("aria-expanded", "false")
    summary.click()
    expect(summary).to_have_attribute("aria-expanded", "true")
    return details.locator("form")


def test_a_refused_start_keeps_the_input_and_puts_errors_beside_their_fields(
    browser, stack, curator
):
    page = page_as(browser, stack, curator)
    page.goto("/progress/")
    form = open_start_form(page, "Import genes")
    form.locator("input[type=file]").set_input_files(PANEL)
    scope = form.get_by_label("Scope")
    scope.fill("Big Synthetic!")
    form.get_by_role("button", name="Import genes").click()
    error = form.locator("#start-gene_import-scope-error")
    expect(error).to_have_text(re.compile("Use only letters, digits, hyphens and underscores"))
    expect(scope).to_have_attribute("aria-invalid", "true")
    expect(scope).to_have_accessible_description(re.compile("Use only letters"))
    expect(scope).to_be_focused()
    expect(scope).to_have_value("Big Synthetic!")
    assert form.locator("input[type=file]").evaluate("input => input.files.length") == 1
    expect(page).to_have_url(re.compile(r"/progress/$"))
    ARTIFACTS.mkdir(exist_ok=True)
    form.screenshot(path=str(ARTIFACTS / "start-form-errors.png"))
    assert not OperationProgress.objects.exists()


def test_without_javascript_a_refused_start_comes_back_with_the_form_filled(
    browser, stack, curator
):
    page = page_as(browser, stack, curator, java_script_enabled=False)
    page.goto("/progress/")
    page.locator("details.pipeline summary", has_text="Import genes").click()
    form = page.get_by_test_id("start-gene_import")
    form.locator("input[type=file]").set_input_files(PANEL)
    form.get_by_label("Scope").fill("Big Synthetic!")
    with page.expect_response(re.compile(r"/pipelines/gene_import/start/$")) as answer:
        form.get_by_role("button", name="Import genes").click()
    assert answer.value.status == 400
    form = page.get_by_test_id("start-gene_import")
    expect(form).to_be_visible()  # its <details> is open again
    scope = form.get_by_label("Scope")
    expect(scope).to_have_value("Big Synthetic!")
    expect(scope).to_have_attribute("aria-invalid", "true")
    expect(scope).to_have_accessible_description(re.compile("Use only letters"))
    expect(form.locator("#start-gene_import-file-error")).to_have_text(
        re.compile("Choose the file again")
    )
    expect(page.get_by_test_id("start-refused")).to_be_visible()


def test_without_javascript_a_start_posts_to_its_url_and_opens_the_run(browser, stack, curator):
    ScopeFactory(name="nojs", owner=curator)
    page = page_as(browser, stack, curator, java_script_enabled=False)
    page.goto("/progress/")
    page.locator("details.pipeline summary", has_text="Validate schemas").click()
    form = page.get_by_test_id("start-validate_schemas")
    expect(form.get_by_label("Scope")).to_have_value("")  # "All scopes", not the first scope
    form.get_by_label("Scope").fill("nojs")
    form.get_by_role("button", name="Validate schemas").click()
    expect(page).to_have_url(re.compile(r"/progress/\d+/$"))
    run = OperationProgress.objects.get()
    assert run.metadata["parameters"] == {"scope": "nojs"}


# Counts permission requests across the navigation to the run page.
COUNT_PERMISSION_REQUESTS = """
const ask = Notification.requestPermission.bind(Notification);
Notification.requestPermission = () => {
  sessionStorage.setItem('asked', String(Number(sessionStorage.getItem('asked') ?? 0) + 1));
  return ask();
};
"""


def test_the_start_click_never_asks_for_notifications_the_explained_button_does(
    browser, stack, curator
):
    # A scope without sources is refused at start (nothing to import).
    ScopeFactory(name="ask", owner=curator, sources=[SMALL_PANEL])
    page = page_as(browser, stack, curator)
    page.add_init_script(COUNT_PERMISSION_REQUESTS)
    page.goto("/progress/")
    if page.evaluate("Notification.permission") != "default":
        pytest.skip("this Chromium answers notification permission without asking")
    opt_in = page.get_by_test_id("notify-opt-in")
    expect(opt_in).to_have_text("Notify me when runs finish")
    expect(page.locator("#notify-opt-in-status")).to_contain_text("Your browser will ask once")
    form = open_start_form(page, "Run curation pipeline")
    form.get_by_label("Scope").fill("ask")
    form.get_by_role("button", name="Run curation pipeline").click()
    expect(page).to_have_url(re.compile(r"/progress/\d+/$"))
    assert page.evaluate("sessionStorage.getItem('asked')") is None
    page.goto("/progress/")
    page.get_by_test_id("notify-opt-in").click()
    page.wait_for_function("sessionStorage.getItem('asked') === '1'")


def test_starting_with_notifications_opted_in_tells_the_run_page(browser, stack, curator):
    # A scope without sources is refused at start (nothing to import).
    ScopeFactory(name="notify", owner=curator, sources=[SMALL_PANEL])
    page = page_as(browser, stack, curator, permissions=["notifications"])
    page.add_init_script(COUNT_PERMISSION_REQUESTS)
    page.goto("/progress/")
    page.get_by_test_id("notify-opt-in").click()
    expect(page.get_by_test_id("notify-opt-in")).to_have_attribute("aria-pressed", "true")
    form = open_start_form(page, "Run curation pipeline")
    pick = form.get_by_label("Scope")
    expect(pick).to_have_value("")  # a required scope is chosen, never defaulted
    pick.fill("notify")
    form.get_by_role("button", name="Run curation pipeline").click()
    expect(page).to_have_url(re.compile(r"/progress/\d+/$"))
    run = OperationProgress.objects.get()
    assert page.evaluate(f"localStorage.getItem('progress-notify:{run.pk}')") == "1"
    assert page.evaluate("sessionStorage.getItem('asked')") is None  # allowed already


def test_a_new_scope_name_is_flagged_before_starting(browser, stack, curator):
    ScopeFactory(name="kidney", owner=curator)
    page = page_as(browser, stack, curator)
    page.goto("/progress/")
    form = open_start_form(page, "Import genes")
    scope = form.get_by_label("Scope")
    note = form.locator("[data-new-value]")
    scope.fill("kidny")
    expect(note).to_have_text(re.compile("New scope “kidny”: starting creates it"))
    expect(scope).to_have_accessible_description(re.compile("New scope"))
    scope.fill("kidney")
    expect(note).to_be_hidden()


def test_another_users_run_page_is_a_plain_not_found_page(browser, stack, curator, viewer):
    theirs = OperationProgressFactory(created_by=viewer)
    page = page_as(browser, stack, curator)
    assert page.goto(f"/progress/{theirs.pk}/").status == 404
    expect(page.get_by_role("heading", name="Run not found")).to_be_visible()
    expect(page.get_by_role("link", name="Back to your runs")).to_be_visible()


def test_runs_with_failures_get_no_green_tick_and_the_failures_filter_finds_them(
    browser, stack, curator
):
    """Issue 24: 5 of 69 rows failed is not a green ✓; Has failures finds it and stalled runs."""
    partly = finished(curator, total_items=69, current_item=69, items_failed=5)
    stalled = OperationProgressFactory(created_by=curator, status=Status.STALLED)
    clean = finished(curator)
    page = page_as(browser, stack, curator)
    page.goto("/progress/")
    connected(page)
    row = page.get_by_test_id(f"run-{partly.pk}")
    expect(row.get_by_test_id("status")).to_have_text("Completed with 5 failures")
    expect(row.locator(".badge")).to_have_attribute("data-status", "completed_with_failures")
    expect(row.locator(".badge__icon")).to_have_text("⚠")
    expect(page.get_by_test_id(f"run-{clean.pk}").get_by_test_id("status")).to_have_text(
        "Completed"
    )
    page.get_by_label("Has failures").check()
    rows = run_rows(page)
    expect(rows).to_have_count(2)
    expect(page.get_by_test_id(f"run-{clean.pk}")).to_have_count(0)
    expect(page.get_by_test_id(f"run-{stalled.pk}")).to_be_visible()
    expect(page).to_have_url(re.compile(r"failures=1"), timeout=5_000)
    # The server applies the same filter (a reload, a shared link, no JavaScript).
    plain = page_as(browser, stack, curator, java_script_enabled=False)
    plain.goto("/progress/?failures=1")
    expect(run_rows(plain)).to_have_count(2)
    expect(plain.get_by_test_id(f"run-{partly.pk}").get_by_test_id("status")).to_have_text(
        "Completed with 5 failures"
    )
    expect(plain.get_by_label("Has failures")).to_be_checked()


def test_typing_in_a_scope_field_finds_scopes_beyond_the_listed_ones(browser, stack, curator):
    Scope.objects.bulk_create(  # with a source each: a scope without one is refused
        Scope(name=f"mine-{n:04}", owner=curator, sources=[SMALL_PANEL])
        for n in range(MAX_SCOPE_CHOICES + 10)
    )
    page = page_as(browser, stack, curator)
    page.goto("/progress/")
    form = open_start_form(page, "Run curation pipeline")
    expect(form.locator("[data-more-suggestions]")).to_have_text(
        "10 more not listed: type the name."
    )
    options = form.locator("#start-curation_pipeline-scope-suggestions option")
    expect(options).to_have_count(MAX_SCOPE_CHOICES)
    form.get_by_label("Scope").fill("0059")
    expect(options).to_have_count(1)
    expect(options).to_have_attribute("value", "mine-0059")
    form.get_by_label("Scope").fill("mine-0059")
    form.get_by_role("button", name="Run curation pipeline").click()
    expect(page).to_have_url(re.compile(r"/progress/\d+/$"))
    assert OperationProgress.objects.get().metadata["parameters"] == {"scope": "mine-0059"}


# --- a shown view (issue 26): the page receives what it shows -------------------------------


def test_an_older_page_says_how_many_new_runs_there_are_and_links_to_them(browser, stack, curator):
    runs = [finished(curator) for _ in range(25)]
    page = page_as(browser, stack, curator)
    page.goto(f"/progress/?before={runs[5].pk}")
    connected(page)
    news = page.locator("[data-new-runs]")
    expect(news).to_be_hidden()
    new = [finished(curator) for _ in range(2)]  # started elsewhere after the page was drawn
    expect(news).to_be_visible()
    expect(page.locator("[data-new-runs-text]")).to_have_text("2 new runs")
    expect(page.get_by_test_id(f"run-{new[-1].pk}")).to_have_count(0)  # this page stays put
    news.get_by_role("link", name="Show them").click()
    expect(page).to_have_url(re.compile(r"/progress/$"))
    expect(page.get_by_test_id(f"run-{new[-1].pk}")).to_be_visible()


def test_the_first_page_updates_its_rows_and_adds_new_ones_while_200_other_runs_update(
    browser, stack, admin_user
):
    from progress.publish.broadcast import operation_broadcast

    def run(name, **fields):
        return OperationProgressFactory(
            created_by=admin_user,
            status=Status.RUNNING,
            total_items=100,
            current_item=1,
            seq=1,
            metadata={"pipeline": name, "parameters": {"scope": name}},
            **fields,
        )

    noise = [run("noise") for _ in range(200)]
    watched = run("watched")
    page = page_as(browser, stack, admin_user)
    page.goto("/progress/?q=watched")  # staff see every run; this page shows one
    connected(page)
    row = page.get_by_test_id(f"run-{watched.pk}")
    expect(row).to_be_visible()
    for step in range(2, 5):
        for other in noise:
            other.current_item, other.seq = step, step
            other.save(update_fields=["current_item", "seq"])
            operation_broadcast(other)
        watched.current_item, watched.seq = step * 10, step
        watched.save(update_fields=["current_item", "seq"])
        operation_broadcast(watched)
    expect(row.get_by_test_id("items")).to_contain_text("40 of 100")
    later = run("watched")  # a new run matching the page's search appears by itself
    expect(page.get_by_test_id(f"run-{later.pk}")).to_be_visible()
    held = page.evaluate("Object.keys(globalThis.progressListClient.store).map(Number)")
    assert sorted(held) == sorted([watched.pk, later.pk])  # not one of the 200 others
