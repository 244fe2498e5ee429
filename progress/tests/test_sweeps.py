"""Sweeps: queued runs whose task already ended are failed with the reason; the periodic
sweep of a serving process starts once per loop and survives failures."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.tasks import TaskResultStatus, default_task_backend, task

from progress.models import EXTERNAL_SEQ_STEP, OperationProgress, Status
from progress.runtime import sweeps
from progress.runtime.sweeps import queued_runs_sweep
from progress.tests.factories import OperationProgressFactory
from progress.tests.waiting import aeventually, eventually

pytestmark = pytest.mark.django_db(transaction=True)


@task
def takes_only_the_run(operation_id: int) -> None:
    """A task that never starts its run: called with a parameter it does not take, it crashes."""


@task
def returns_without_starting(operation_id: int) -> str:
    """A task that ends without ever starting its run."""
    return "nothing to do"


@pytest.fixture
def thread_pool(settings):
    """The embedded backend (results kept in this process), as `make run` uses."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_local.ThreadPoolBackend"}}


def queued_run(task_function, **parameters) -> OperationProgress:
    """A queued run whose task was enqueued as operation_enqueue() does, once it has ended."""
    run = OperationProgressFactory(operation_name="sweep_test", status=Status.QUEUED, seq=3)
    result = task_function.enqueue(run.pk, **parameters)
    run.task_result_id = str(result.id)
    run.save(update_fields=["task_result_id"])
    eventually(lambda: default_task_backend.get_result(result.id).status != TaskResultStatus.READY)
    eventually(lambda: default_task_backend.get_result(result.id).finished_at is not None)
    return run


def test_a_queued_run_whose_task_crashed_is_failed_with_the_error(thread_pool):
    run = queued_run(takes_only_the_run, path="data/x.json")
    assert queued_runs_sweep(grace=0) == [run.pk]
    run.refresh_from_db()
    assert run.status == Status.FAILED
    assert "Its task failed before the run started" in run.error_message
    assert "unexpected keyword argument 'path'" in run.error_message
    assert run.completed_at is not None
    assert run.seq >= 3 + EXTERNAL_SEQ_STEP  # outranks anything broadcast before


def test_a_queued_run_whose_task_returned_without_starting_it_is_failed(thread_pool):
    run = queued_run(returns_without_starting)
    assert queued_runs_sweep(grace=0) == [run.pk]
    run.refresh_from_db()
    assert run.status == Status.FAILED
    assert "ended without starting the run" in run.error_message


def test_a_task_that_ended_within_the_grace_period_is_left_to_write_its_own_end(thread_pool):
    run = queued_run(returns_without_starting)
    assert queued_runs_sweep(grace=3600) == []
    run.refresh_from_db()
    assert run.status == Status.QUEUED


def test_runs_the_backend_knows_nothing_about_or_not_yet_queued_are_left_alone(thread_pool):
    unknown = OperationProgressFactory(status=Status.QUEUED, task_result_id="no-such-result")
    enqueuing = OperationProgressFactory(status=Status.QUEUED, task_result_id="")
    assert queued_runs_sweep(grace=0) == []
    assert set(
        OperationProgress.objects.filter(pk__in=[unknown.pk, enqueuing.pk]).values_list(
            "status", flat=True
        )
    ) == {Status.QUEUED}


def test_a_run_that_started_is_not_the_queued_sweeps_business(thread_pool):
    run = queued_run(returns_without_starting)
    OperationProgress.objects.filter(pk=run.pk).update(status=Status.RUNNING)
    assert queued_runs_sweep(grace=0) == []
    run.refresh_from_db()
    assert run.status == Status.RUNNING


def test_the_immediate_backend_keeps_no_results_so_nothing_is_swept(settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    run = OperationProgressFactory(operation_name="sweep_test", status=Status.QUEUED)
    result = takes_only_the_run.enqueue(run.pk)
    OperationProgress.objects.filter(pk=run.pk).update(task_result_id=str(result.id))
    assert queued_runs_sweep(grace=0) == []


def test_the_mark_stalled_command_also_sweeps_queued_runs(thread_pool, capsys):
    run = queued_run(takes_only_the_run, path="data/x.json")
    call_command("mark_stalled", "--timeout", "0")
    run.refresh_from_db()
    assert run.status == Status.FAILED
    assert f"Failed 1 queued run(s) whose task had ended: [{run.pk}]" in capsys.readouterr().out


def test_the_servers_and_writers_sweep_covers_queued_runs_too(thread_pool, settings):
    from progress.runtime.sweeps import dead_runs_sweep

    settings.PROGRESS = {"STALL_TIMEOUT": 0}  # the grace a queued run's task gets, too
    run = queued_run(takes_only_the_run, path="data/x.json")
    assert dead_runs_sweep() == [run.pk]
    run.refresh_from_db()
    assert run.status == Status.FAILED


# --- the periodic sweep of a serving process: started once per loop, on a timer -----


async def test_the_sweep_starts_once_per_loop():
    sweeps.ensure_sweeper()
    task = sweeps._sweep_task
    sweeps.ensure_sweeper()
    assert sweeps._sweep_task is task
    task.cancel()


async def test_the_sweep_runs_every_interval_and_survives_a_failure(monkeypatch):
    calls = []

    def sweep():
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("database is down")
        return []

    monkeypatch.setattr(sweeps, "sweep_interval", lambda: 0.01)
    monkeypatch.setattr(sweeps, "dead_runs_sweep", sweep)
    sweeps._sweep_task = None
    sweeps.ensure_sweeper()
    try:
        await aeventually(lambda: len(calls) >= 3)
    finally:
        sweeps._sweep_task.cancel()
