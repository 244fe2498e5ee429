"""python manage.py import_genes PATH [--scope NAME] [--format auto|csv|tsv|json]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.management.base import CommandError, CommandParser
from rest_framework.exceptions import ValidationError

from curation.gene_files import FORMATS
from curation.gene_import import gene_import
from curation.models import Scope
from progress import files
from progress.console import TrackedOperationCommand, live_url
from progress.launch import flatten, pipeline_start


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
        if options["enqueue"]:
            self._enqueue_upload(path, scope=scope, fmt=fmt, **options)
            return
        target, _ = Scope.objects.get_or_create(name=scope)
        # A copy goes to the storage, as an upload would: the run can then be re-run from the
        # admin, and its page never shows the admin's own path. Pruning deletes the copy.
        with path.open("rb") as handle:
            stored = files.upload_save(File(handle, name=path.name))
        parameters = {"file": stored, "scope": scope, "format": fmt}
        metadata: dict[str, Any] = {"pipeline": self.operation_name, "parameters": parameters}
        files.record_file(metadata, name=stored, label=path.name, kind=files.UPLOAD)
        _operation, result = self.run_tracked(
            lambda tracker: gene_import(
                path=path, scope=target, tracker=tracker, fmt=fmt, pace=options["pace"]
            ),
            metadata=metadata,
            **options,
        )
        for error in result.errors[:20]:
            self.stderr.write(f"  line {error.line}: {error.reason}  [{error.value}]")
        if result.failed > 20:
            self.stderr.write(f"  ... {result.failed - 20} more in the report {result.report}")
        self.stdout.write(
            f"Imported into scope {scope!r}: {result.added} added, {result.updated} updated, "
            f"{result.unchanged} unchanged, {result.skipped} skipped, {result.failed} failed."
        )

    def _enqueue_upload(self, path: Path, *, scope: str, fmt: str, **options: Any) -> None:
        """Queue the import as an upload would be: the file goes to the storage, so a
        worker on another machine can read it, and it is checked as an upload is."""
        user = self.resolve_user(options.get("user"))
        with path.open("rb") as handle:
            try:
                operation = pipeline_start(
                    name=self.operation_name,
                    data={"file": File(handle, name=path.name), "scope": scope, "format": fmt},
                    user=user,
                    trusted=True,
                )
            except ValidationError as exc:
                raise CommandError(f"Not queued: {flatten(exc.detail)}") from None
        self.stdout.write(
            f"Operation {operation.pk}: {self.operation_name} queued "
            f"(task {operation.task_result_id})  live at {live_url(operation.pk)}"
        )
