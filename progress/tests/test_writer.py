"""The writer thread carrying out the policy against the database, seen through run handles."""

from __future__ import annotations

import gc
import json
import threading
import weakref

import pytest
from django.db import connection

from progress.models import OperationProgress, Status
from progress.runtime.handle import RunHandle
from progress.runtime.writer import get_writer
from progress.tests.waiting import eventually
from progress.tracker import ProgressTracker, track_operation

pytestmark = pytest.mark.django_db(transaction=True)


def table_item(run_id):
    """The row's current_item as the table holds it now."""
    return OperationProgress.objects.values_list("current_item", flat=True).get(pk=run_id)


def test_a_live_state_reaches_the_publisher_before_the_table(fast_progress, recording_publisher):
    seen = []
    with track_operation("order", total_items=10) as tracker:
        recording_publisher.on_publish = lambda m: seen.append(
            (json.loads(m["text"])["data"]["current_item"], table_item(m["id"]))
        )
        tracker.update(current_item=6, force=True)
        get_writer().drain()
        recording_publisher.on_publish = None
    assert seen == [(6, 0)]  # broadcast at 6 while the table still said 0
    assert table_item(tracker.id) == 10


def test_a_final_state_reaches_the_publisher_after_the_table(fast_progress, recording_publisher):
    seen = []
    recording_publisher.on_publish = lambda m: seen.append(
        OperationProgress.objects.values_list("status", flat=True).get(pk=m["id"])
    )
    with track_operation("order") as tracker:
        pass
    assert seen[-1] == Status.COMPLETED  # the table held it when it was broadcast
    assert recording_publisher.types()[-1] == "task_completed"
    assert len(recording_publisher.of(tracker.id)) == 2


def test_a_run_finished_elsewhere_is_flagged_on_its_handle_and_never_overwritten(
    fast_progress, recording_publisher
):
    tracker = ProgressTracker.create("zombie")
    tracker.start()
    OperationProgress.objects.get(pk=tracker.id).mark_stalled()
    tracker.update(current_item=5, force=True)
    eventually(lambda: tracker.handle.finished_elsewhere.is_set())
    assert tracker.handle.cancel.is_set()
    tracker.complete()  # a no-op: its final state was written elsewhere
    assert OperationProgress.objects.get(pk=tracker.id).status == Status.STALLED
    assert "task_completed" not in recording_publisher.types()


def test_a_cancel_and_the_task_id_reach_the_handle_by_polling(fast_progress, recording_publisher):
    tracker = ProgressTracker.create("polled")
    tracker.start()
    OperationProgress.objects.filter(pk=tracker.id).update(task_result_id="task-9")
    OperationProgress.objects.get(pk=tracker.id).request_cancel()
    eventually(lambda: tracker.handle.cancel.is_set())
    eventually(lambda: tracker.handle.task_result_id == "task-9")
    tracker.cancel()
    assert OperationProgress.objects.get(pk=tracker.id).status == Status.CANCELLED


def test_a_trailing_state_is_published_from_the_handle_alone(settings, recording_publisher):
    settings.PROGRESS = {"BROADCAST_INTERVAL": 0.05, "CANCEL_POLL_INTERVAL": 0.05}
    row = OperationProgress.objects.create(operation_name="handle only", status=Status.RUNNING)
    handle = RunHandle.of(row)
    handle.state.total_items = 4
    handle.record_published(
        handle.state.row_fields(percentage=0.0, metadata={}, samples=[]), now=0.0
    )
    get_writer().register(handle)
    try:
        handle.state.current_item = 3  # what a tracker's update() does, without the tracker
        message = eventually(lambda: recording_publisher.of(row.pk))[-1]
        data = json.loads(message["text"])["data"]
        assert (data["current_item"], data["progress_percentage"]) == (3, 75.0)
        assert message["seq"] > row.seq
    finally:
        get_writer().unregister(handle)


def test_the_writer_never_keeps_a_tracker_alive(fast_progress, recording_publisher):
    tracker = ProgressTracker.create("dropped")
    tracker.start()
    tracker.update(current_item=1, force=True)
    get_writer().drain()
    gone = weakref.ref(tracker)
    handle = tracker.handle
    del tracker
    gc.collect()
    assert gone() is None  # the writer holds the handle only
    get_writer().unregister(handle)


def test_calls_run_on_the_writers_own_connection_and_return_their_result(transactional_db):
    assert get_writer().call(lambda: OperationProgress.objects.count(), timeout=5) == 0
    with pytest.raises(ZeroDivisionError):
        get_writer().call(lambda: 1 / 0, timeout=5)


def test_a_final_state_is_waited_for_even_while_an_earlier_state_is_being_handled(
    fast_progress, recording_publisher
):
    tracker = ProgressTracker.create("overlap")
    tracker.start()
    in_broadcast, release = threading.Event(), threading.Event()

    def hold_the_live_state(message):  # on the writer thread, before that state's write
        if json.loads(message["text"])["data"]["current_item"] == 5:
            in_broadcast.set()
            release.wait(10)

    recording_publisher.on_publish = hold_the_live_state
    tracker.update(current_item=5, force=True)
    assert in_broadcast.wait(5)
    seen = []

    def finish():
        tracker.complete()  # returns once the table holds the final state
        try:
            seen.append(OperationProgress.objects.get(pk=tracker.id).status)
        finally:
            connection.close()

    finisher = threading.Thread(target=finish)
    finisher.start()
    eventually(lambda: tracker.id in get_writer()._pending)  # queued behind the held state
    release.set()
    finisher.join(10)
    assert seen == [Status.COMPLETED]
