"""python manage.py import_genes PATH [--scope NAME] [--format auto|csv|tsv|json]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from curation.gene_files import FORMATS
from curation.gene_import import gene_import
from curation.models import Scope
from progress.commands import TrackedOperationCommand


class Command(TrackedOperationCommand):
    help = "Import genes from a panel JSON, CSV or TSV file into a scope, with live progress."
    operation_name = "gene_import"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="The gene file.")
        parser.add_argument("--scope", default="default", help="Scope to add the genes to.")
        parser.add_argument("--format", default="auto", choices=FORMATS, dest="fmt")
        super().add_arguments(parser)

    def handle(self, *args: Any, path: Path, scope: str, fmt: str, **options: Any) -> None:
        if not path.is_file():
            raise CommandError(
                f"{path} is not a file; give the path of a CSV, TSV or JSON gene list"
            )
        parameters = {"file": str(path.resolve()), "scope": scope, "format": fmt}
        if options["enqueue"]:
            self.enqueue(parameters, **options)
            return
        target, _ = Scope.objects.get_or_create(name=scope)
        metadata = {"pipeline": self.operation_name, "parameters": parameters}
        operation, result = self.run_tracked(
            lambda tracker: gene_import(
                path=path, scope=target, tracker=tracker, fmt=fmt, pace=options["pace"]
            ),
            metadata=metadata,
            **options,
        )
        for error in result.errors[:20]:
            self.stderr.write(f"  line {error.line}: {error.reason}  [{error.value}]")
        if result.failed > 20:
            self.stderr.write(
                f"  ... {result.failed - 20} more in {operation.metadata['report_path']}"
            )
        self.stdout.write(
            f"Imported into scope {scope!r}: {result.added} added, {result.updated} updated, "
            f"{result.unchanged} unchanged, {result.failed} failed."
        )
