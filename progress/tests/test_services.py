"""Changes made outside a tracker: cancel and the stall sweep, each broadcast once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from progress.cancel import operation_cancel
from progress.models import EXTERNAL_SEQ_STEP, OperationProgress, Status
from progress.runtime.sweeps import stalled_runs_mark
from progress.tests.factories import OperationProgressFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_cancelling_a_queued_run_ends_it_at_once_and_tells_browsers(recording_publisher):
    run = OperationProgressFactory(status=Status.QUEUED, seq=3)
    assert operation_cancel(run)
    saved = OperationProgress.objects.get(pk=run.pk)
    assert saved.status == Status.CANCELLED
    assert saved.seq == 3 + EXTERNAL_SEQ_STEP
    assert recording_publisher.types() == ["task_cancelled"]
    assert recording_publisher.messages[0][1]["seq"] == saved.seq


def test_cancelling_a_running_run_asks_its_tracker_and_tells_browsers(recording_publisher):
    run = OperationProgressFactory(status=Status.RUNNING, seq=3)
    assert operation_cancel(run)
    saved = OperationProgress.objects.get(pk=run.pk)
    assert (saved.status, saved.seq) == (Status.RUNNING, 3)
    assert saved.cancel_requested_at is not None
    assert recording_publisher.types() == ["progress_update"]


def test_cancelling_a_finished_run_changes_and_sends_nothing(recording_publisher):
    run = OperationProgressFactory(status=Status.COMPLETED)
    assert not operation_cancel(run)
    assert recording_publisher.messages == []


def test_the_sweep_marks_only_runs_whose_heartbeat_stopped(recording_publisher):
    old = timezone.now() - timedelta(seconds=120)
    dead = OperationProgressFactory(status=Status.RUNNING, heartbeat_at=old, seq=8)
    alive = OperationProgressFactory(status=Status.RUNNING, heartbeat_at=timezone.now())
    queued = OperationProgressFactory(status=Status.QUEUED, heartbeat_at=old)
    assert stalled_runs_mark(timeout=60) == [dead.pk]
    statuses = dict(OperationProgress.objects.values_list("pk", "status"))
    assert statuses == {dead.pk: Status.STALLED, alive.pk: Status.RUNNING, queued.pk: Status.QUEUED}
    stalled = OperationProgress.objects.get(pk=dead.pk)
    assert stalled.seq == 8 + EXTERNAL_SEQ_STEP
    assert "No heartbeat for over 60 s (the last at 20" in stalled.error_message
    assert " UTC)" in stalled.error_message and "+00:00" not in stalled.error_message
    assert recording_publisher.types() == ["task_stalled"]


def test_a_second_sweep_marks_nothing_again(recording_publisher):
    OperationProgressFactory(status=Status.RUNNING, heartbeat_at=timezone.now() - timedelta(1))
    assert len(stalled_runs_mark(timeout=60)) == 1
    assert stalled_runs_mark(timeout=60) == []
    assert len(recording_publisher.messages) == 1
