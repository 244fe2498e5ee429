"""A base class for management commands that launch a tracked operation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TextIO, cast

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from progress import pipelines
from progress.console import live_url, run_with_console
from progress.launch import operation_enqueue
from progress.models import OperationProgress, Status
from progress.tracker import ProgressTracker

__all__ = ["TrackedOperationCommand", "live_url"]


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
            raise CommandError(
                f"Operation {operation.pk} was cancelled after {operation.current_item} items",
                returncode=2,
            )
        return operation, result

    def resolve_user(self, username: str | None) -> Any:
        if not username:
            return None
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user {username!r}; create it or leave out --user") from None
