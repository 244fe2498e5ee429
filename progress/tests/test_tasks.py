"""@tracked_task: one decorator makes a Django task that runs a queued run, and a pipeline."""

from __future__ import annotations

import logging
import threading

import pytest
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from progress import pipelines, tasks
from progress.launch import pipeline_start
from progress.models import OperationProgress, Status
from progress.tasks import tracked_task
from progress.tests.waiting import eventually, wait_for_final

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_progress")]
IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


class CountParameters(serializers.Serializer):
    rows = serializers.IntegerField(min_value=0, max_value=1000)
    fail_at = serializers.IntegerField(required=False)


@tracked_task(name="test_count_rows", parameters=CountParameters)
def count_rows(tracker, *, rows: int, fail_at: int | None = None) -> dict[str, int]:
    """Count to rows, one item each.

    A second paragraph that is not the description.
    """
    for row in tracker.track(range(rows)):
        if row == fail_at:
            raise ValueError(f"row {row} is bad")
        tracker.advance(0, added=1)
    return {"rows": rows}


def _finished_result(task_result_id: str):
    result = count_rows.get_result(task_result_id)
    return result if result.is_finished else None


@tracked_task()
def say_done(tracker) -> str:
    return "done"


class Held:
    """Runs of hold_until_released inside their body: now, and the most at once."""

    lock = threading.Lock()
    released = threading.Event()
    now = most = 0


@tracked_task(name="test_hold_until_released")
def hold_until_released(tracker) -> None:
    """Stay running until the test releases every run."""
    with Held.lock:
        Held.now += 1
        Held.most = max(Held.most, Held.now)
    try:
        assert Held.released.wait(30), "the test never released the held runs"
    finally:
        with Held.lock:
            Held.now -= 1


# Registered only while a test asks for it: other tests list the project's pipelines.
COUNT_ROWS = pipelines.unregister("test_count_rows")
NO_PARAMETERS = pipelines.unregister("say_done")
HOLD = pipelines.unregister("test_hold_until_released")


@pytest.fixture
def registered(settings):
    settings.TASKS = IMMEDIATE
    pipelines.register(COUNT_ROWS)
    pipelines.register(NO_PARAMETERS)
    yield
    pipelines.unregister("test_count_rows")
    pipelines.unregister("say_done")


def test_a_tracked_task_is_a_pipeline_named_and_described_from_its_function():
    assert COUNT_ROWS.task is count_rows
    described = COUNT_ROWS.describe()
    assert (described["title"], described["description"]) == (
        "Test count rows",
        "Count to rows, one item each.",
    )
    assert [p["name"] for p in described["parameters"]] == ["rows", "fail_at"]
    assert NO_PARAMETERS.describe()["parameters"] == []
    # Django finds the task again by its module path (db_worker imports it by that).
    assert count_rows.module_path == "progress.tests.test_tasks.count_rows"


def test_a_started_tracked_task_runs_the_queued_run_to_completion(registered, user):
    run = pipeline_start(name="test_count_rows", data={"rows": 5}, user=user, trusted=True)
    run = wait_for_final(run.pk)
    assert (run.status, run.current_item, run.total_items, run.items_added) == (
        Status.COMPLETED,
        5,
        5,
        5,
    )
    assert run.operation_name == "test_count_rows" and run.task_result_id


def test_an_error_in_the_function_fails_the_run_with_its_message(registered, user):
    run = pipeline_start(
        name="test_count_rows", data={"rows": 5, "fail_at": 2}, user=user, trusted=True
    )
    run = wait_for_final(run.pk)
    assert (run.status, run.current_item) == (Status.FAILED, 2)
    assert run.error_message == "ValueError: row 2 is bad"


def test_bad_parameters_start_nothing(registered, user):
    with pytest.raises(ValidationError):
        pipeline_start(name="test_count_rows", data={"rows": -1}, user=user, trusted=True)
    assert not OperationProgress.objects.exists()


def test_enqueue_queues_a_run_from_code(registered, user):
    run = wait_for_final(tasks.enqueue("say_done", user=user).pk)
    assert (run.status, run.created_by) == (Status.COMPLETED, user)


def test_each_run_opens_and_closes_fresh_database_connections(registered, monkeypatch, user):
    calls = []
    monkeypatch.setattr(tasks, "close_old_connections", lambda: calls.append("closed"))
    wait_for_final(tasks.enqueue("say_done", user=user).pk)
    assert calls == ["closed", "closed"]


@pytest.mark.postgres
def test_a_db_worker_in_another_process_runs_a_tracked_task(registered, settings, user):
    from progress.tests.subprocesses import manage

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    worker = manage("db_worker", "--interval", "0.1", redis=False, TASKS_BACKEND="db")
    try:
        run = pipeline_start(name="test_count_rows", data={"rows": 30}, user=user, trusted=True)
        assert run.status == Status.QUEUED
        run = wait_for_final(run.pk, timeout=60)
        assert (run.status, run.items_added) == (Status.COMPLETED, 30)
        assert run.started_at is not None
        # The run is final as soon as the task body returns; the worker records the
        # task's own result a moment later, so wait for that rather than race it.
        result = eventually(lambda: _finished_result(run.task_result_id), timeout=30)
        assert result.return_value == {"rows": 30}
    finally:
        worker.terminate()
        worker.communicate(timeout=20)


@pytest.fixture
def held_in_a_thread_pool(settings):
    """The embedded backend, as `make run` uses; its pool has a thread for every run here."""
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks_local.ThreadPoolBackend",
            "OPTIONS": {"MAX_WORKERS": 4},
        }
    }
    pipelines.register(HOLD)
    Held.released.clear()
    Held.now = Held.most = 0
    yield
    Held.released.set()
    pipelines.unregister("test_hold_until_released")


def test_the_embedded_backend_runs_at_most_the_bound_at_once_and_then_the_rest(
    held_in_a_thread_pool, settings, user, caplog
):
    settings.PROGRESS = {**settings.PROGRESS, "EMBEDDED_MAX_CONCURRENT_RUNS": 2}
    caplog.set_level(logging.INFO, logger="progress.tasks")
    runs = [
        pipeline_start(name="test_hold_until_released", data={}, user=user, trusted=True)
        for _ in range(4)
    ]

    def waiting() -> int:
        return sum("waits, queued" in record.getMessage() for record in caplog.records)

    # Every run is either inside its body or has said it waits for a slot.
    eventually(lambda: Held.now + waiting() == 4)
    assert (Held.now, waiting()) == (2, 2)
    queued = OperationProgress.objects.filter(pk__in=[run.pk for run in runs], status=Status.QUEUED)
    assert queued.count() == 2
    Held.released.set()
    assert [wait_for_final(run.pk).status for run in runs] == [Status.COMPLETED] * 4
    assert Held.most == 2
