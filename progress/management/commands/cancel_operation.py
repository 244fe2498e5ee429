"""python manage.py cancel_operation ID"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from progress.cancel import operation_cancel
from progress.models import OperationProgress
from progress.publish.publisher import get_publisher


class Command(BaseCommand):
    help = "Cancel a run: a queued one at once, a running one at its next item boundary."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("operation_id", type=int)

    def handle(self, *args: Any, operation_id: int, **options: Any) -> None:
        try:
            operation = OperationProgress.objects.get(pk=operation_id)
        except OperationProgress.DoesNotExist:
            raise CommandError(f"No operation {operation_id}") from None
        if not operation_cancel(operation):
            raise CommandError(f"Operation {operation_id} already finished ({operation.status})")
        get_publisher().flush()
        self.stdout.write(
            f"Operation {operation_id}: "
            + (
                "cancelled."
                if operation.status == "cancelled"
                else "cancel requested; it stops at its next item."
            )
        )
