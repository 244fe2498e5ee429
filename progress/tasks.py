"""@tracked_task: a Django task that runs a queued run, registered as a launchable pipeline.

    @tracked_task(title="Import genes", parameters=GeneImportParameters, uploads=("file",))
    def gene_import(tracker, *, file, scope):
        for row in tracker.track(rows(file)):
            ...

The function takes the run's tracker and its keyword parameters. The decorator returns a
django.tasks Task taking (operation_id, **parameters): the API, the pages, the admin and
`--enqueue` (progress/launch.py) create the queued run and enqueue it with the run's id.
Whichever backend runs it (a thread pool in the server, db_worker processes elsewhere),
the task opens fresh database connections, tracks the block as that run (completed,
failed or cancelled like track_operation), and returns the function's result.
Import the module from your AppConfig.ready() so that the pipelines are registered.

At most PROGRESS["EMBEDDED_MAX_CONCURRENT_RUNS"] tracked tasks run at once in one process:
a backend that runs tasks inside the web server (the thread pool) would otherwise run as
many as it has threads beside the pages. A task past the bound waits, its run still queued,
and starts when a run of the process ends.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import close_old_connections
from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME, Task, task
from django.tasks.base import DEFAULT_TASK_PRIORITY
from rest_framework import serializers

from progress import conf, pipelines
from progress.launch import operation_enqueue
from progress.models import OperationProgress
from progress.tracker import track_operation

__all__ = ["enqueue", "tracked_task"]

logger = logging.getLogger(__name__)

TrackedFunction = Callable[..., Any]  # (tracker, **parameters) -> result


class NoParameters(serializers.Serializer[Any]):
    """A pipeline that takes no parameters."""


def tracked_task(
    *,
    name: str | None = None,
    title: str | None = None,
    description: str = "",
    parameters: type[serializers.Serializer[Any]] = NoParameters,
    uploads: tuple[str, ...] = (),
    permission: str = pipelines.START_PERMISSION,
    priority: int = DEFAULT_TASK_PRIORITY,
    queue_name: str = DEFAULT_TASK_QUEUE_NAME,
    backend: str = DEFAULT_TASK_BACKEND_ALIAS,
) -> Callable[[TrackedFunction], Task]:
    """Make function(tracker, **parameters) a Django task and a pipeline named name.

    name defaults to the function's name (it is also the runs' operation_name), title to
    its name in words; parameters is the DRF serializer that validates a start's
    parameters and describes them to the API and the start forms.
    """

    def decorator(function: TrackedFunction) -> Task:
        pipeline_name = name or function.__name__
        tracked = task(priority=priority, queue_name=queue_name, backend=backend)(
            run_tracked(function, pipeline_name)
        )
        pipelines.register(
            pipelines.Pipeline(
                name=pipeline_name,
                title=title or pipeline_name.replace("_", " ").capitalize(),
                description=description or _first_line(function.__doc__),
                task=tracked,
                parameters=parameters,
                permission=permission,
                uploads=uploads,
            )
        )
        return tracked

    return decorator


def run_tracked(function: TrackedFunction, operation_name: str) -> Callable[..., Any]:
    """function as a task body: (operation_id, **parameters), tracked as that queued run.

    It keeps function's name, module and signature (functools.wraps), so Django finds the
    task by its module path and launch checks parameters against the function's own.
    """

    @functools.wraps(function)
    def run(operation_id: int, /, **parameters: Any) -> Any:
        with run_slot(operation_id):
            # Pool threads and workers live long and never see request_finished: close stale
            # connections around each task, as Django does around a request.
            close_old_connections()
            try:
                with track_operation(operation_name, operation_id=operation_id) as tracker:
                    return function(tracker, **parameters)
            finally:
                close_old_connections()

    return run


class _RunSlots:
    """EMBEDDED_MAX_CONCURRENT_RUNS slots per process; a new bound applies to new waits."""

    lock = threading.Lock()
    bound = 0
    semaphore = threading.BoundedSemaphore(1)

    @classmethod
    def current(cls) -> threading.BoundedSemaphore:
        bound = int(conf.get("EMBEDDED_MAX_CONCURRENT_RUNS"))
        with cls.lock:
            if bound != cls.bound:
                cls.bound, cls.semaphore = bound, threading.BoundedSemaphore(bound)
            return cls.semaphore


@contextmanager
def run_slot(operation_id: int) -> Iterator[None]:
    """Wait for one of this process's EMBEDDED_MAX_CONCURRENT_RUNS slots; hold it inside."""
    semaphore = _RunSlots.current()
    if not semaphore.acquire(blocking=False):
        logger.info(
            "Run %s waits, queued: EMBEDDED_MAX_CONCURRENT_RUNS (%s) runs are running in this "
            "process; it starts when one ends.",
            operation_id,
            _RunSlots.bound,
        )
        semaphore.acquire()
    try:
        yield
    finally:
        semaphore.release()


def enqueue(
    name: str, *, user: Any = None, parameters: dict[str, Any] | None = None
) -> OperationProgress:
    """Queue a run of the pipeline name from code (parameters as the task takes them)."""
    return operation_enqueue(pipelines.get(name), parameters=parameters or {}, user=user)


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n", 1)[0]
