"""RunHandle: what the writer sees of a run, and trailing publishes built from it (no database)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from progress.models import OperationProgress, Status
from progress.runtime.handle import RunHandle, StateJob

CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def queued_row(**fields):
    values = {
        "pk": 5,
        "operation_name": "import",
        "status": Status.QUEUED,
        "created_by_id": 9,
        "created_at": CREATED,
        "seq": 3,
        "task_result_id": "task-1",
        **fields,
    }
    return OperationProgress(**values)


def published_handle(**fields):
    """A running run's handle after one published state at 10 of 100 items."""
    handle = RunHandle.of(queued_row(**fields))
    handle.state.status = Status.RUNNING
    handle.state.total_items = 100
    handle.state.current_item = 10
    job_fields = handle.state.row_fields(percentage=10.0, metadata={}, samples=[])
    handle.record_published(job_fields, now=50.0)
    return handle


def test_a_handle_holds_the_runs_id_fixed_fields_groups_and_task_id():
    handle = RunHandle.of(queued_row())
    assert handle.id == 5
    assert handle.fixed == {
        "pk": 5,
        "operation_name": "import",
        "created_by_id": 9,
        "created_at": CREATED,
    }
    assert handle.task_result_id == "task-1"
    assert handle.state.status == Status.QUEUED
    assert not handle.cancel.is_set() and not handle.finished_elsewhere.is_set()


def test_a_run_whose_cancel_was_requested_before_it_started_starts_cancelled():
    handle = RunHandle.of(queued_row(cancel_requested_at=CREATED))
    assert handle.cancel.is_set()


def test_the_handle_copies_metadata_so_the_row_is_never_changed():
    row = queued_row(metadata={"pipeline": "import"})
    handle = RunHandle.of(row)
    handle.state.metadata["stage"] = None
    assert row.metadata == {"pipeline": "import"}


def test_seqs_rise_from_the_rows_seq_whichever_thread_asks():
    handle = RunHandle.of(queued_row())
    seqs = []
    threads = [
        threading.Thread(target=lambda: seqs.extend(handle.next_seq() for _ in range(100)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seqs) == list(range(4, 404))


def test_a_trailing_state_carries_the_latest_counters_and_a_higher_seq():
    handle = published_handle()
    handle.state.current_item = 40
    handle.state.items_added = 39
    trailing = handle.trailing_fields()
    assert trailing is not None
    assert (trailing["current_item"], trailing["items_added"]) == (40, 39)
    assert trailing["progress_percentage"] == 40.0
    assert trailing["seq"] > handle.published["seq"]
    assert trailing["status"] == Status.RUNNING


def test_no_trailing_state_when_no_counter_moved():
    handle = published_handle()
    assert handle.trailing_fields() is None
    handle.state.current_item = 11
    assert handle.trailing_fields() is not None
    assert handle.trailing_fields() is None  # that one was published


def test_no_trailing_state_once_the_run_left_running():
    handle = published_handle()
    handle.state.current_item = 99
    handle.state.status = Status.COMPLETED  # its final state is the tracker's to publish
    assert handle.trailing_fields() is None


def test_a_staged_runs_trailing_percentage_is_stage_weighted():
    handle = published_handle()
    handle.stage_weights = [1.0, 3.0]
    handle.published["metadata"] = {"stage": {"name": "b", "index": 2, "count": 2}}
    handle.state.current_item = 50
    trailing = handle.trailing_fields()
    assert trailing is not None
    assert trailing["progress_percentage"] == 62.5  # 1/4 done + half of 3/4


def test_a_job_is_final_by_its_status():
    handle = published_handle()
    assert not StateJob(handle, {"status": Status.RUNNING}, must_write=False).is_final
    assert StateJob(handle, {"status": Status.STALLED}, must_write=True).is_final


def test_the_handle_builds_the_row_the_writer_serialises():
    handle = published_handle()
    operation = handle.operation(handle.published)
    assert (operation.pk, operation.operation_name, operation.created_by_id) == (5, "import", 9)
    assert (operation.current_item, operation.task_result_id) == (10, "task-1")


def test_states_built_after_a_cancel_request_say_so():
    handle = published_handle()
    assert handle.operation(handle.published).cancel_requested_at is None
    handle.cancel_requested(CREATED)
    assert handle.cancel.is_set()
    assert handle.operation(handle.published).cancel_requested_at == CREATED


def test_a_second_cancel_request_keeps_the_first_time():
    handle = published_handle()
    later = datetime(2030, 1, 1, tzinfo=UTC)
    handle.cancel_requested(CREATED)
    handle.cancel_requested(later)
    assert handle.cancel_requested_at == CREATED
