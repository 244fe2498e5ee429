"""python manage.py calculate_scores [--scope NAME]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from curation.management.scopes import optional_scope
from curation.scoring_run import curations_score
from progress.commands import TrackedOperationCommand


class Command(TrackedOperationCommand):
    help = "Score curations from their evidence per ClinGen SOP v11, with live progress."
    operation_name = "calculate_scores"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scope", help="Only this scope (default: every scope).")
        super().add_arguments(parser)

    def handle(self, *args: Any, scope: str | None, **options: Any) -> None:
        target = optional_scope(scope)
        parameters = {"scope": scope} if scope else {}
        if options["enqueue"]:
            self.enqueue(parameters, **options)
            return
        operation, classes = self.run_tracked(
            lambda tracker: curations_score(scope=target, tracker=tracker, pace=options["pace"]),
            metadata={"pipeline": self.operation_name, "parameters": parameters},
            **options,
        )
        self.stdout.write(
            f"Scored {operation.current_item} curations ({operation.items_updated} changed, "
            f"{operation.items_failed} failed)."
        )
        for name, count in sorted(classes.items()):
            self.stdout.write(f"  {name}: {count}")
