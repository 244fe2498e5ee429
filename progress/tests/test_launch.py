"""Starting pipelines: one queued run per start, a failed enqueue fails the run, not silently."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.exceptions import PermissionDenied
from rest_framework import serializers

from progress import launch, pipelines, signals
from progress.models import EXTERNAL_SEQ_STEP, OperationProgress, Status
from progress.tests.factories import StaffFactory

pytestmark = pytest.mark.django_db(transaction=True)


class Parameters(serializers.Serializer):
    size = serializers.IntegerField(min_value=1)


class FakeTask:
    """Stands in for a django.tasks Task: records enqueues, or refuses them."""

    def __init__(self, *, refuse: bool = False) -> None:
        self.refuse = refuse
        self.enqueued = []

    @staticmethod
    def func(operation_id, size):
        """The task's function, whose signature start() checks the parameters against."""

    def enqueue(self, operation_id, **parameters):
        if self.refuse:
            raise ConnectionError("task database unreachable")
        self.enqueued.append((operation_id, parameters))
        return SimpleNamespace(id=f"task-{operation_id}")


def pipeline(task):
    return pipelines.Pipeline(name="test_launch", title="Test", task=task, parameters=Parameters)


@pytest.fixture
def starter(transactional_db):
    return StaffFactory(is_superuser=True)


@pytest.fixture
def task(monkeypatch):
    fake = FakeTask()
    monkeypatch.setitem(pipelines._registry, "test_launch", pipeline(fake))
    return fake


def test_a_start_records_a_queued_run_with_its_task_and_tells_browsers(
    task, recording_publisher, starter
):
    run = launch.pipeline_start(name="test_launch", data={"size": 3}, user=starter)
    saved = OperationProgress.objects.get(pk=run.pk)
    assert (saved.status, saved.task_result_id) == (Status.QUEUED, f"task-{run.pk}")
    assert saved.metadata == {"pipeline": "test_launch", "parameters": {"size": 3}}
    assert task.enqueued == [(run.pk, {"size": 3})]
    assert recording_publisher.types() == ["progress_update"]


def test_a_start_without_the_permission_is_refused_and_records_nothing(task, user):
    with pytest.raises(PermissionDenied, match="start_pipeline"):
        launch.pipeline_start(name="test_launch", data={"size": 3}, user=user)
    assert not OperationProgress.objects.exists()


def test_a_failed_enqueue_fails_the_run_outranking_its_queued_state(
    monkeypatch, recording_publisher, starter
):
    monkeypatch.setitem(pipelines._registry, "test_launch", pipeline(FakeTask(refuse=True)))
    finished = []
    receiver = lambda sender, operation, status, **kw: finished.append((operation.pk, status))  # noqa: E731
    signals.operation_finished.connect(receiver)
    try:
        with pytest.raises(ConnectionError):
            launch.pipeline_start(name="test_launch", data={"size": 3}, user=starter)
    finally:
        signals.operation_finished.disconnect(receiver)
    run = OperationProgress.objects.get()
    assert run.status == Status.FAILED
    assert run.error_message == "Could not enqueue the task: task database unreachable"
    assert run.seq == EXTERNAL_SEQ_STEP  # the one rule for changes made outside a tracker
    assert recording_publisher.types() == ["task_failed"]
    assert finished == [(run.pk, Status.FAILED)]


def test_a_run_still_active_cannot_be_rerun(task, starter, recording_publisher):
    run = launch.pipeline_start(name="test_launch", data={"size": 3}, user=starter)
    with pytest.raises(ValueError, match="is still queued; cancel it first"):
        launch.operation_rerun(run, user=starter)


def test_a_finished_run_is_rerun_with_its_parameters(task, starter, recording_publisher):
    run = launch.pipeline_start(name="test_launch", data={"size": 3}, user=starter)
    OperationProgress.objects.filter(pk=run.pk).update(status=Status.COMPLETED)
    run.refresh_from_db()
    again = launch.operation_rerun(run, user=starter)
    assert again.pk != run.pk
    assert task.enqueued[-1] == (again.pk, {"size": 3})
