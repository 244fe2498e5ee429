"""Per-stage results: each stage's counts, duration and status; headline counts are sums."""

from __future__ import annotations

import pytest

from progress.models import OperationProgress, Status
from progress.runtime.writer import get_writer
from progress.tracker import OperationCancelled, ProgressTracker, track_operation

pytestmark = pytest.mark.django_db(transaction=True)


class NullPublisher:
    def publish(self, groups, message):
        pass


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    monkeypatch.setattr("progress.publish.broadcast.get_publisher", lambda: NullPublisher())


def saved(tracker):
    get_writer().drain()
    return OperationProgress.objects.get(pk=tracker.id)


def by_name(run):
    return {entry["name"]: entry for entry in run.metadata["stage_results"]}


def run_three_stages(tracker):
    """import 10 rows (8 added, 2 failed), validate 4 (1 failed), score 3 (3 updated)."""
    tracker.set_stages([("import", 2), "validate", "score"])
    tracker.start_stage("import", total_items=10)
    tracker.update(current_item=10, items_added=8, items_failed=2)
    tracker.start_stage("validate", total_items=4)
    tracker.update(current_item=4, items_failed=tracker.items_failed + 1)
    tracker.record_stage_result(valid=3, invalid=1)
    tracker.start_stage("score", total_items=3)
    tracker.update(current_item=3, items_updated=3)


def test_each_stage_keeps_its_own_counts_duration_and_status(fast_progress):
    with track_operation("staged") as tracker:
        run_three_stages(tracker)
    stages = by_name(saved(tracker))
    assert list(stages) == ["import", "validate", "score"]
    counts = {
        n: (s["items"], s["total"], s["added"], s["updated"], s["failed"])
        for n, s in stages.items()
    }
    assert counts == {
        "import": (10, 10, 8, 0, 2),
        "validate": (4, 4, 0, 0, 1),
        "score": (3, 3, 0, 3, 0),
    }
    assert all(s["status"] == "completed" for s in stages.values())
    assert all(
        s["duration"] >= 0 and s["started_at"] and s["completed_at"] for s in stages.values()
    )
    assert stages["validate"]["details"] == {"valid": 3, "invalid": 1}


def test_a_finished_staged_runs_headline_is_the_sum_over_stages(fast_progress):
    with track_operation("staged") as tracker:
        run_three_stages(tracker)
    run = saved(tracker)
    stages = by_name(run).values()
    assert (run.current_item, run.total_items) == (17, 17)  # not the last stage's 3 of 3
    assert run.items_added == sum(s["added"] for s in stages) == 8
    assert run.items_updated == sum(s["updated"] for s in stages) == 3
    assert run.items_failed == sum(s["failed"] for s in stages) == 3
    assert run.progress_percentage == 100.0


def test_a_running_stage_says_so_with_its_counts_so_far(fast_progress):
    with track_operation("live stages") as tracker:
        tracker.set_stages(["a", "b"])
        tracker.start_stage("a", total_items=10)
        tracker.update(current_item=4, items_added=4, force=True)
        stages = by_name(saved(tracker))
        assert stages["a"]["status"] == "running"
        assert (stages["a"]["items"], stages["a"]["added"]) == (4, 4)
        assert stages["b"]["status"] == "pending"


def test_a_failed_run_marks_its_current_stage_failed(fast_progress):
    with pytest.raises(RuntimeError), track_operation("breaks") as tracker:
        tracker.set_stages(["a", "b", "c"])
        tracker.start_stage("a")
        tracker.start_stage("b")
        raise RuntimeError("disk full")
    stages = by_name(saved(tracker))
    assert [s["status"] for s in stages.values()] == ["completed", "failed", "pending"]


def test_a_cancelled_run_marks_its_current_stage_cancelled(fast_progress):
    with track_operation("stopped") as tracker:
        tracker.set_stages(["a", "b"])
        tracker.start_stage("a")
        raise OperationCancelled
    run = saved(tracker)
    assert run.status == Status.CANCELLED
    assert [s["status"] for s in by_name(run).values()] == ["cancelled", "pending"]


def test_stages_never_entered_by_a_completed_run_are_skipped(fast_progress):
    with track_operation("short") as tracker:
        tracker.set_stages(["a", "b"])
        tracker.start_stage("a", total_items=1)
        tracker.update(current_item=1)
    assert [s["status"] for s in by_name(saved(tracker)).values()] == ["completed", "skipped"]


def test_stage_details_need_a_running_stage(fast_progress):
    tracker = ProgressTracker.create("no stage")
    with pytest.raises(ValueError, match="start_stage"):
        tracker.record_stage_result(valid=1)


def test_the_admin_change_page_shows_the_stage_table_and_the_last_log_lines(
    fast_progress, admin_client
):
    import logging

    log = logging.getLogger("progress.tests.stages")
    with track_operation("admin view") as tracker:
        run_three_stages(tracker)
        for i in range(30):
            log.warning("step %s", i)
    page = admin_client.get(
        f"/admin/progress/operationprogress/{tracker.id}/change/"
    ).content.decode()
    assert "<td>validate</td><td>completed</td><td>4/4</td><td>+0 ~0 ✗1</td>" in page
    assert "step 29" in page and "step 10" in page and "step 9<" not in page
    assert f"/api/v1/operations/{tracker.id}/logs.txt" in page
