"""Signals: one per transition, sent after the change is committed, never breaking the run."""

from __future__ import annotations

import logging
import threading

import pytest
from django.db import transaction

from progress import signals
from progress.cancel import operation_cancel
from progress.models import OperationProgress, Status
from progress.runtime.sweeps import stalled_runs_mark
from progress.runtime.writer import get_writer
from progress.tests.factories import OperationProgressFactory
from progress.tracker import track_operation

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def received():
    """Every progress signal sent, as (signal name, run id, status kwarg, table status, thread)."""
    events = []

    def receiver(signal_name):
        def record(sender, operation, **kwargs):
            assert sender is OperationProgress
            table = OperationProgress.objects.values_list("status", flat=True).get(pk=operation.pk)
            name = threading.current_thread().name
            events.append((signal_name, operation.pk, kwargs.get("status"), table, name))

        return record

    receivers = {name: receiver(name) for name in ("started", "finished", "stalled")}
    for name, fn in receivers.items():
        getattr(signals, f"operation_{name}").connect(fn)
    yield events
    for name, fn in receivers.items():
        getattr(signals, f"operation_{name}").disconnect(fn)


def test_a_tracked_run_sends_started_and_finished_once_each_from_the_writer(
    fast_progress, recording_publisher, received
):
    with track_operation("signalled", total_items=3) as tracker:
        for i in range(1, 4):
            tracker.update(current_item=i, force=True)
    get_writer().drain()
    assert [event[:4] for event in received] == [
        ("started", tracker.id, None, Status.RUNNING),
        ("finished", tracker.id, Status.COMPLETED, Status.COMPLETED),
    ]
    # After the writer's UPDATE, on its thread: never the pipeline's.
    assert {event[4] for event in received} == {"progress-writer"}


def test_a_failed_run_sends_finished_with_failed(fast_progress, recording_publisher, received):
    with pytest.raises(RuntimeError), track_operation("doomed"):
        raise RuntimeError("no")
    get_writer().drain()
    assert [event[:3] for event in received][-1][2] == Status.FAILED


def test_a_receiver_that_raises_is_logged_and_never_breaks_the_run(
    fast_progress, recording_publisher, caplog
):
    def broken(sender, operation, **kwargs):
        raise ValueError("receiver bug")

    signals.operation_started.connect(broken)
    signals.operation_finished.connect(broken)
    try:
        with track_operation("robust", total_items=2) as tracker:
            tracker.update(current_item=2, force=True)
        get_writer().drain()
    finally:
        signals.operation_started.disconnect(broken)
        signals.operation_finished.disconnect(broken)
    assert OperationProgress.objects.get(pk=tracker.id).status == Status.COMPLETED
    ours = [r for r in caplog.records if r.name == "progress.signals"]
    assert len(ours) == 2  # started and finished, each logged with the run's id
    assert all("(the run goes on)" in r.getMessage() for r in ours)


def test_a_stall_sends_stalled_once_even_when_swept_twice(received):
    run = OperationProgressFactory(status=Status.RUNNING, heartbeat_at=None)
    OperationProgress.objects.filter(pk=run.pk).update(updated_at="2000-01-01T00:00:00Z")
    assert stalled_runs_mark(timeout=1) == [run.pk]
    assert stalled_runs_mark(timeout=1) == []
    assert [event[:4] for event in received] == [
        ("stalled", run.pk, None, Status.STALLED),
    ]


def test_cancelling_a_queued_run_sends_finished_cancelled_after_commit(received):
    run = OperationProgressFactory(status=Status.QUEUED)
    with transaction.atomic():
        assert operation_cancel(run)
        assert received == []  # not before the transaction commits
    assert [event[:4] for event in received] == [
        ("finished", run.pk, Status.CANCELLED, Status.CANCELLED)
    ]


def test_a_cancel_rolled_back_sends_nothing(received):
    run = OperationProgressFactory(status=Status.QUEUED)
    with pytest.raises(RuntimeError), transaction.atomic():
        operation_cancel(run)
        raise RuntimeError("rolled back")
    assert received == []


def test_a_cancel_request_for_a_running_run_sends_nothing_yet(received):
    run = OperationProgressFactory(status=Status.RUNNING)
    assert operation_cancel(run)
    assert received == []  # its tracker finishes it, and the finish is signalled then


def test_a_receiver_that_raises_never_breaks_a_cancel(caplog):
    def broken(sender, operation, **kwargs):
        raise ValueError("receiver bug")

    run = OperationProgressFactory(status=Status.QUEUED)
    signals.operation_finished.connect(broken)
    try:
        with caplog.at_level(logging.ERROR):
            assert operation_cancel(run)
    finally:
        signals.operation_finished.disconnect(broken)
    assert OperationProgress.objects.get(pk=run.pk).status == Status.CANCELLED
    assert "receiver bug" in caplog.text
