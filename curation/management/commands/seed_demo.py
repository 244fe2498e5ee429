"""python manage.py seed_demo: demo logins, the kidney-genetics scope, its genes and curations."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, TextIO, cast

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files import File
from django.core.management.base import BaseCommand

from curation.demo import demo_curations, demo_scope
from curation.gene_import import ImportResult, gene_import
from curation.models import Scope
from progress import files
from progress.console import run_with_console
from progress.models import OperationProgress
from progress.tracker import ProgressTracker

CREDENTIALS_FILE = Path(settings.BASE_DIR) / "var" / "demo-credentials.txt"


def seeded_import(path: Path, *, scope: Scope, user: Any, stdout: TextIO) -> OperationProgress:
    """Import a panel file as an upload would be recorded, so the run can be re-run.

    A copy goes to the storage and the run's parameters are the gene_import pipeline's
    (file, scope, format), as `import_genes` records them; a server path there could never
    be re-run (the pipeline takes uploads only). Pruning the run deletes the copy.
    """
    with path.open("rb") as handle:
        stored = files.upload_save(File(handle, name=path.name))
    metadata: dict[str, Any] = {
        "pipeline": "gene_import",
        "parameters": {"file": stored, "scope": scope.name, "format": "auto"},
    }
    files.record_file(metadata, name=stored, label=path.name, kind=files.UPLOAD)

    def work(tracker: ProgressTracker) -> ImportResult:
        return gene_import(path=path, scope=scope, tracker=tracker)

    operation, _ = run_with_console(
        "gene_import", work, stdout=stdout, user=user, metadata=metadata, bar=False
    )
    return operation


class Command(BaseCommand):
    help = "Create the demo logins and seed the kidney-genetics scope from the panel files."

    def handle(self, *args: Any, **options: Any) -> None:
        password = self._password()
        demo = self._user("demo", password, staff=True)
        self._user("curator", password, staff=False)
        scope = demo_scope()
        if not scope.genes.exists():
            for source in scope.sources:
                seeded_import(
                    Path(settings.BASE_DIR) / source,
                    scope=scope,
                    user=demo,
                    stdout=cast(TextIO, self.stdout._out),
                )
        created = demo_curations(scope)
        self.stdout.write(
            f"Scope {scope.name!r}: {scope.genes.count()} genes, "
            f"{scope.curations.count()} curations ({created} new).\n"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo logins: demo / {password} (staff, admin)   "
                f"curator / {password} (own runs only)"
            )
        )

    @staticmethod
    def _password() -> str:
        """One generated password, kept in var/ so sessions survive restarts."""
        if CREDENTIALS_FILE.exists():
            return CREDENTIALS_FILE.read_text().strip()
        CREDENTIALS_FILE.parent.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(9)
        # Created 0600 (O_EXCL): the file is never readable by others, not even briefly.
        descriptor = os.open(CREDENTIALS_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(password + "\n")
        return password

    @staticmethod
    def _user(username: str, password: str, *, staff: bool) -> Any:
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.is_staff = user.is_superuser = staff
        if not user.check_password(password):
            # set_password changes the session hash: doing it on every start signed
            # everyone out, so only when the password really changes.
            user.set_password(password)
        user.save()
        user.user_permissions.add(Permission.objects.get(codename="start_pipeline"))
        return user
