"""python manage.py calculate_scores [--scope NAME] [--enqueue]"""

from __future__ import annotations

from typing import Any

from curation.management.scopes import ScopeOperationCommand
from curation.scoring_run import curations_score


class Command(ScopeOperationCommand):
    help = "Score curations from their evidence per ClinGen SOP v11, with live progress."
    operation_name = "calculate_scores"

    def handle(self, *args: Any, scope: str | None, **options: Any) -> None:
        ran = self.run_over_scope(curations_score, scope=scope, **options)
        if ran is None:
            return
        operation, classes = ran
        self.stdout.write(
            f"Scored {operation.current_item} curations ({operation.items_updated} changed, "
            f"{operation.items_failed} failed)."
        )
        for name, count in sorted(classes.items()):
            self.stdout.write(f"  {name}: {count}")
