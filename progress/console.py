"""Tracked operations in a terminal: run_with_console() and TrackedOperationCommand, a base
class for management commands that launch one (a terminal progress bar, a live page URL).

The operation runs in a worker thread; the command's main thread draws a tqdm bar
from the same tracker state browsers see (plain lines when stdout is not a TTY).
Ctrl-C asks the operation to stop at its next item boundary, so it ends `cancelled`
with its counts instead of leaving a run stuck in "running".
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO, cast

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse
from tqdm import tqdm

from progress import conf, pipelines
from progress.launch import operation_enqueue
from progress.models import OperationProgress, Status
from progress.tracker import ProgressTracker, track_operation

__all__ = ["TrackedOperationCommand", "live_url", "run_with_console"]

REFRESH_SECONDS = 0.1
# A command whose run was cancelled exits with the status of an interrupted command.
EXIT_CANCELLED = 130
PLAIN_LINE_SECONDS = 2.0


def live_url(operation_id: int) -> str:
    """The URL of the run's live page: PROGRESS["SITE_URL"] plus the page's path."""
    base = conf.get("SITE_URL").rstrip("/")
    return base + reverse("progress:detail", args=[operation_id])


def run_with_console(
    operation_name: str,
    work: Callable[[ProgressTracker], Any],
    *,
    stdout: TextIO = sys.stdout,
    user: Any = None,
    metadata: dict[str, Any] | None = None,
    operation_id: int | None = None,
    bar: bool | None = None,
) -> tuple[OperationProgress, Any]:
    """Track work(tracker) as one run; returns the finished row and work's result.

    Exceptions from work propagate (the run is already marked failed).
    """
    started = threading.Event()
    interrupted = threading.Event()
    holder: dict[str, Any] = {}

    def target() -> None:
        try:
            with track_operation(
                operation_name, user=user, metadata=metadata, operation_id=operation_id
            ) as tracker:
                holder["tracker"] = tracker
                tracker.cancel_requested = tracker.cancel_requested or interrupted.is_set()
                started.set()
                holder["result"] = work(tracker)
        except BaseException as exc:
            holder["error"] = exc
        finally:
            started.set()

    def on_interrupt(signum: int, frame: Any) -> None:
        # First Ctrl-C: stop at the next item boundary. A second one exits at once.
        interrupted.set()
        if "tracker" in holder:
            holder["tracker"].cancel_requested = True
        stdout.write("\nCancelling at the next item boundary (Ctrl-C again to abort)...\n")
        signal.signal(signal.SIGINT, previous_handler)

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous_handler = signal.getsignal(signal.SIGINT)
    if in_main_thread:
        signal.signal(signal.SIGINT, on_interrupt)
    try:
        thread = threading.Thread(target=target, name=f"operation-{operation_name}")
        thread.start()
        started.wait()
        tracker = holder.get("tracker")
        if tracker is not None:
            stdout.write(
                f"Operation {tracker.id}: {operation_name}  live at {live_url(tracker.id)}\n"
            )
            stdout.flush()
            _follow(thread, tracker, stdout, stdout.isatty() if bar is None else bar)
        thread.join()
    finally:
        if in_main_thread:
            signal.signal(signal.SIGINT, previous_handler)
    if "error" in holder:
        raise holder["error"]
    return OperationProgress.objects.get(pk=holder["tracker"].id), holder.get("result")


def _follow(
    thread: threading.Thread, tracker: ProgressTracker, out: TextIO, show_bar: bool
) -> None:
    """Draw the tracker's state until the worker finishes."""
    progress_bar = tqdm(file=out, unit="item", dynamic_ncols=True) if show_bar else None
    last_line, last_text = 0.0, ""
    try:
        while thread.is_alive():
            thread.join(REFRESH_SECONDS)
            if progress_bar is not None:
                _draw(progress_bar, tracker)
            elif time.monotonic() - last_line >= PLAIN_LINE_SECONDS:
                last_text = describe(tracker)
                out.write(last_text + "\n")
                out.flush()
                last_line = time.monotonic()
    finally:
        if progress_bar is not None:
            _draw(progress_bar, tracker)
            progress_bar.close()
    if describe(tracker) != last_text:
        out.write(describe(tracker) + "\n")


def _draw(progress_bar: tqdm, tracker: ProgressTracker) -> None:
    if progress_bar.total != tracker.total_items:
        progress_bar.reset(total=tracker.total_items)
    progress_bar.n = tracker.current_item
    progress_bar.set_description(_stage_label(tracker), refresh=False)
    progress_bar.set_postfix(
        added=tracker.items_added,
        updated=tracker.items_updated,
        unchanged=tracker.items_unchanged,
        skipped=tracker.items_skipped,
        failed=tracker.items_failed,
        refresh=False,
    )
    progress_bar.refresh()


def _stage_label(tracker: ProgressTracker) -> str:
    stage = tracker.metadata.get("stage")
    if stage:
        return f"stage {stage['index']}/{stage['count']} {stage['name']}"
    return tracker.current_operation or tracker.operation_name


def describe(tracker: ProgressTracker) -> str:
    """One plain line: status, stage, counts."""
    total = "?" if tracker.total_items is None else tracker.total_items
    return (
        f"[{tracker.status}] {_stage_label(tracker)}: {tracker.current_item}/{total} "
        f"added={tracker.items_added} updated={tracker.items_updated} "
        f"unchanged={tracker.items_unchanged} skipped={tracker.items_skipped} "
        f"failed={tracker.items_failed}"
    )


class TrackedOperationCommand(BaseCommand):
    """Runs one operation in the foreground with a terminal bar and a live page URL."""

    operation_name = ""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", help="Username the run is attributed to (default: none).")
        parser.add_argument(
            "--pace",
            type=float,
            default=0.0,
            help="Demo only: sleep this many seconds per item so a person can watch.",
        )
        parser.add_argument("--no-bar", action="store_true", help="Plain lines, no progress bar.")
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="Hand the run to the task backend (the TASKS setting) and print its id.",
        )

    def enqueue(self, parameters: dict[str, Any], **options: Any) -> OperationProgress:
        """Queue the run on the task backend instead of running it here."""
        operation = operation_enqueue(
            pipelines.get(self.operation_name),
            parameters=parameters,
            user=self.resolve_user(options.get("user")),
        )
        self.stdout.write(
            f"Operation {operation.pk}: {self.operation_name} queued "
            f"(task {operation.task_result_id})  live at {live_url(operation.pk)}"
        )
        return operation

    def run_tracked(
        self, work: Callable[[ProgressTracker], Any], *, metadata: dict[str, Any], **options: Any
    ) -> tuple[OperationProgress, Any]:
        try:
            operation, result = run_with_console(
                self.operation_name,
                work,
                # The raw stream: OutputWrapper would append newlines to the bar's redraws.
                stdout=cast(TextIO, self.stdout._out),
                user=self.resolve_user(options.get("user")),
                metadata=metadata,
                bar=False if options.get("no_bar") else None,
            )
        except Exception as exc:  # the run is already marked failed with this message
            raise CommandError(f"{self.operation_name} failed: {exc}") from exc
        if operation.status == Status.CANCELLED:
            # A cancel is an ending the user asked for (Ctrl-C here, or Cancel on a page),
            # not an error: said plainly, with the exit status of an interrupted command.
            self.stdout.write(
                f"Operation {operation.pk} cancelled after {operation.current_item} items; "
                f"re-run it from {live_url(operation.pk)}"
            )
            raise SystemExit(EXIT_CANCELLED)
        return operation, result

    def resolve_user(self, username: str | None) -> Any:
        if not username:
            return None
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user {username!r}; create it or leave out --user") from None
