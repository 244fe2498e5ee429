"""python manage.py run_curation_pipeline --scope NAME"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from curation.management.scopes import required_scope
from curation.pipeline import scope_pipeline
from progress.console import TrackedOperationCommand


class Command(TrackedOperationCommand):
    help = "Refresh, validate, score and summarise a scope as one staged operation."
    operation_name = "curation_pipeline"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scope", required=True, help="The scope to run.")
        super().add_arguments(parser)

    def handle(self, *args: Any, scope: str, **options: Any) -> None:
        target = required_scope(scope)
        if options["enqueue"]:
            self.enqueue({"scope": scope}, **options)
            return
        operation, summary = self.run_tracked(
            lambda tracker: scope_pipeline(scope=target, tracker=tracker, pace=options["pace"]),
            metadata={"pipeline": self.operation_name, "parameters": {"scope": scope}},
            **options,
        )
        self.stdout.write(f"Pipeline {operation.pk} on {scope!r}:\n{summary_text(summary)}")


def summary_text(summary: dict[str, Any]) -> str:
    """The pipeline's summary as lines a person reads, not a Python dict."""
    classes = ", ".join(f"{name} {count}" for name, count in summary["classifications"].items())
    return "\n".join(
        [
            f"  genes: {summary['genes']} ({summary['genes_added']} added)",
            f"  curations: {summary['curations']} ({summary['invalid_curations']} invalid)",
            f"  classifications: {classes or 'none'}",
            f"  need expert review: {summary['needs_expert_review']}",
        ]
    )
