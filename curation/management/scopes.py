"""Scope lookups for commands, with errors that list what exists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandError, CommandParser

from curation.models import Scope
from curation.scope_access import scope_choices
from progress.console import TrackedOperationCommand
from progress.models import OperationProgress


def required_scope(name: str) -> Scope:
    try:
        return Scope.objects.get(name=name)
    except Scope.DoesNotExist:
        known = scope_choices(None, search="", every=True).text()
        raise CommandError(
            f"No scope {name!r} (known: {known}); import genes into it first with "
            f"import_genes PATH --scope {name}"
        ) from None


def optional_scope(name: str | None) -> Scope | None:
    return None if name is None else required_scope(name)


class ScopeOperationCommand(TrackedOperationCommand):
    """An operation over every curation, or one scope's with --scope; --enqueue queues it."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scope", help="Only this scope (default: every scope).")
        super().add_arguments(parser)

    def run_over_scope(
        self,
        work: Callable[..., Any],
        *,
        scope: str | None,
        extra: dict[str, Any] | None = None,
        **options: Any,
    ) -> tuple[OperationProgress, Any] | None:
        """Run work(scope=, tracker=, pace=) here, or enqueue it (None); extra: task parameters."""
        target = optional_scope(scope)
        parameters = ({"scope": scope} if scope else {}) | (extra or {})
        if options["enqueue"]:
            self.enqueue(parameters, **options)
            return None
        return self.run_tracked(
            lambda tracker: work(scope=target, tracker=tracker, pace=options["pace"]),
            metadata={"pipeline": self.operation_name, "parameters": parameters},
            **options,
        )
