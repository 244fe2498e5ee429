"""Cancel in every stage of the demo pipeline (issue 24): the run ends cancelled in the stage
it was in, in a real pipeline process, whichever stage that is. How fast is measured by
bench/bench_cancel.py (about a second), not asserted here: a loaded CI machine is slower."""

# The fixtures are imported by name (pytest finds them here), so arguments "redefine" them.
# ruff: noqa: F811

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from curation.demo import PANEL_DIR
from curation.tests.test_commands import seeded_scope
from progress.cancel import operation_cancel
from progress.console import EXIT_CANCELLED
from progress.models import FINAL_STATUSES, OperationProgress, Status
from progress.testing import eventually
from progress.tests.subprocesses import manage
from tests.browser_helpers import browser, orm_beside_playwright, page_as, stack  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

# Per item: long enough that each stage lasts seconds (125 import rows, ~270 curations).
PACE = "0.02"


def pipeline_in_stage(stage: str, *, user: str = ""):
    """A paced demo pipeline in its own process, once the run has reached `stage`."""
    scope = seeded_scope()
    scope.sources = [str(PANEL_DIR / "mvz_medicover.json")]  # a short import stage
    scope.save(update_fields=["sources"])
    # Rows written every 0.1 s so the test sees the stage start; a cancel is unaffected.
    process = manage(
        "run_curation_pipeline",
        "--scope",
        scope.name,
        "--pace",
        PACE,
        "--no-bar",
        *(("--user", user) if user else ()),
        redis=True,
        PROGRESS_DB_INTERVAL="0.1",
        PROGRESS_CANCEL_POLL_INTERVAL="1",  # the default, whatever the test process uses
    )

    def in_stage() -> OperationProgress | None:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        run = OperationProgress.objects.filter(operation_name="curation_pipeline").first()
        current = (run.metadata.get("stage") or {}).get("name") if run else None
        return run if current == stage and run.current_item > 0 else None

    return process, eventually(in_stage, 60, step=0.02)


def cancel_and_wait(run: OperationProgress) -> OperationProgress:
    """Request a cancel as the API does; the run once the table holds its final state."""
    assert operation_cancel(run)

    def ended() -> OperationProgress | None:
        row = OperationProgress.objects.get(pk=run.pk)
        return row if row.status in FINAL_STATUSES else None

    return eventually(ended, 30, step=0.01)


@pytest.mark.parametrize("stage", ["import", "validate", "score"])
def test_a_cancel_ends_the_pipeline_cancelled_in_the_stage_it_was_in(stage):
    process, run = pipeline_in_stage(stage)
    row = cancel_and_wait(run)
    _out, err = process.communicate(timeout=30)
    assert process.returncode == EXIT_CANCELLED, err  # the command reports a cancelled run
    assert row.status == Status.CANCELLED
    stages = {entry["name"]: entry["status"] for entry in row.metadata["stage_results"]}
    # Stopped inside the stage (validate and score used to run to their end, or past it).
    assert stages[stage] == "cancelled"
    assert stages["summarise"] != "completed"  # nothing after the cancel ran


# Every text the run page's status badge shows, from the first render on.
STATUS_RECORDER = """
window.__statuses = [];
document.addEventListener('DOMContentLoaded', () => {
  const status = document.querySelector('[data-part=status]');
  const note = () => {
    const text = status.textContent.trim();
    if (window.__statuses.at(-1) !== text) window.__statuses.push(text);
  };
  note();
  const options = { childList: true, characterData: true, subtree: true };
  new MutationObserver(note).observe(status, options);
});
"""


@pytest.mark.browser
def test_cancelling_from_the_run_page_in_the_validate_stage_ends_it_cancelled(
    browser, stack, curator
):
    """The stage where three of four cancels used to end "✓ Completed" (issue 24)."""
    process, run = pipeline_in_stage("validate", user=curator.username)
    page = page_as(browser, stack, curator)
    page.goto(f"/progress/{run.pk}/")
    expect(page.locator("[data-part=status]")).to_have_text("Running")
    page.add_init_script(STATUS_RECORDER)  # for the page the cancel's POST redirects to
    button = page.get_by_test_id("cancel-button")
    button.click()
    button.click()  # confirm
    expect(page.locator("[data-part=status]")).to_have_text("Cancelled")
    seen = page.evaluate("window.__statuses")
    # After the click: "Cancelling…" until the final state, never "Running" or "Completed".
    assert set(seen) <= {"Cancelling…", "Cancelled"}, seen
    assert page.get_by_text("Cancel requested").count() == 0
    expect(page.get_by_test_id("late-cancel")).to_be_hidden()
    process.communicate(timeout=30)
    stages = {
        e["name"]: e["status"]
        for e in OperationProgress.objects.get(pk=run.pk).metadata["stage_results"]
    }
    assert (stages["validate"], stages["score"]) == ("cancelled", "pending")
