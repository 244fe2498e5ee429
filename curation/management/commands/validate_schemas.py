"""python manage.py validate_schemas [--scope NAME]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from curation.management.scopes import optional_scope
from curation.validation_run import curations_validate
from progress.commands import TrackedOperationCommand


class Command(TrackedOperationCommand):
    help = "Validate schema definitions and every curation's evidence, with live progress."
    operation_name = "validate_schemas"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scope", help="Only this scope's curations (default: all).")
        super().add_arguments(parser)

    def handle(self, *args: Any, scope: str | None, **options: Any) -> None:
        target = optional_scope(scope)
        parameters = {"scope": scope} if scope else {}
        if options["enqueue"]:
            self.enqueue(parameters, **options)
            return
        operation, summary = self.run_tracked(
            lambda tracker: curations_validate(scope=target, tracker=tracker, pace=options["pace"]),
            metadata={"pipeline": self.operation_name, "parameters": parameters},
            **options,
        )
        for error in operation.metadata.get("row_errors", [])[:20]:
            self.stderr.write(f"  curation {error['line']} ({error['value']}): {error['reason']}")
        for schema, errors in operation.metadata.get("schema_errors", {}).items():
            self.stderr.write(f"  schema {schema}: {'; '.join(errors)}")
        self.stdout.write(
            f"Validated {summary['curations']} curations: {summary['invalid']} invalid, "
            f"{summary['with_warnings']} with warnings; "
            f"{summary['schemas_invalid']} invalid schemas."
        )
