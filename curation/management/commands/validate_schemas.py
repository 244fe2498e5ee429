"""python manage.py validate_schemas [--scope NAME] [--enqueue]"""

from __future__ import annotations

from typing import Any

from curation.management.scopes import ScopeOperationCommand
from curation.validation_run import curations_validate


class Command(ScopeOperationCommand):
    help = "Validate schema definitions and every curation's evidence, with live progress."
    operation_name = "validate_schemas"

    def handle(self, *args: Any, scope: str | None, **options: Any) -> None:
        ran = self.run_over_scope(curations_validate, scope=scope, **options)
        if ran is None:
            return
        operation, summary = ran
        for error in operation.metadata.get("row_errors", [])[:20]:
            self.stderr.write(f"  curation {error['line']} ({error['value']}): {error['reason']}")
        for schema, errors in operation.metadata.get("schema_errors", {}).items():
            self.stderr.write(f"  schema {schema}: {'; '.join(errors)}")
        self.stdout.write(
            f"Validated {summary['curations']} curations: {summary['invalid']} invalid, "
            f"{summary['with_warnings']} with warnings; "
            f"{summary['schemas_invalid']} invalid schemas."
        )
