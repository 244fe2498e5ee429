"""python manage.py seed_demo: demo logins, the kidney-genetics scope (shared: staff's), its
genes and curations, and the curator login's own curator-sandbox scope."""

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

from curation.demo import curator_scope, demo_curations, demo_scope
from curation.gene_import import ImportResult, gene_import
from curation.models import Scope
from curation.scope_access import may_use_every_scope
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
        # As the user would: a non-staff login never changes genes other scopes use.
        shared = may_use_every_scope(user)
        return gene_import(path=path, scope=scope, tracker=tracker, may_change_shared=shared)

    operation, _ = run_with_console(
        "gene_import", work, stdout=stdout, user=user, metadata=metadata, bar=False
    )
    return operation


# The demo logins: username, staff (and superuser), what the login sees.
DEMO_LOGINS = (("demo", True, "staff, admin"), ("curator", False, "own runs only"))


class Command(BaseCommand):
    help = "Create the demo logins and seed the kidney-genetics scope from the panel files."

    def handle(self, *args: Any, **options: Any) -> None:
        passwords = self._passwords()
        users = {}
        lines = []
        for username, staff, sees in DEMO_LOGINS:
            users[username], created = self._user(username, passwords[username], staff=staff)
            lines.append(self._login_line(users[username], passwords[username], created, sees))
        scope = demo_scope()
        if not scope.genes.exists():
            for source in scope.sources:
                seeded_import(
                    Path(settings.BASE_DIR) / source,
                    scope=scope,
                    user=users["demo"],
                    stdout=cast(TextIO, self.stdout._out),
                )
        sandbox = curator_scope(users["curator"])
        if not sandbox.genes.exists():
            for source in sandbox.sources:
                seeded_import(
                    Path(settings.BASE_DIR) / source,
                    scope=sandbox,
                    user=users["curator"],
                    stdout=cast(TextIO, self.stdout._out),
                )
        created_curations = demo_curations(scope)
        self.stdout.write(
            f"Scope {scope.name!r}: {scope.genes.count()} genes, "
            f"{scope.curations.count()} curations ({created_curations} new); scope "
            f"{sandbox.name!r} (curator's own): {sandbox.genes.count()} genes.\n"
        )
        self.stdout.write(self.style.SUCCESS("Demo logins:\n" + "\n".join(lines)))
        self.stdout.write(f"(passwords kept in {CREDENTIALS_FILE})")

    @staticmethod
    def _login_line(user: Any, password: str, created: bool, sees: str) -> str:
        if created or user.check_password(password):
            return f"  {user.username} / {password} ({sees})"
        # Never reset: whoever changed it (or an older demo) knows it.
        return (
            f"  {user.username}: existing login, its password left as it is "
            f"(manage.py changepassword {user.username} sets a new one)"
        )

    @staticmethod
    def _passwords() -> dict[str, str]:
        """A generated password per demo login, kept in var/ so restarts keep sessions."""
        kept = _read_credentials()
        passwords = {
            username: kept.get(username) or secrets.token_urlsafe(12)
            for username, _staff, _sees in DEMO_LOGINS
        }
        if passwords != kept:
            _write_private(
                CREDENTIALS_FILE, "".join(f"{user} {pw}\n" for user, pw in passwords.items())
            )
        return passwords

    @staticmethod
    def _user(username: str, password: str, *, staff: bool) -> tuple[Any, bool]:
        """The login, created with this password and flags; an existing one is left alone."""
        user, created = get_user_model().objects.get_or_create(username=username)
        if created:
            user.is_staff = user.is_superuser = staff
            user.set_password(password)
            user.save()
            user.user_permissions.add(Permission.objects.get(codename="start_pipeline"))
        return user, created


def _read_credentials() -> dict[str, str]:
    """username -> password from the credentials file (an older one-password file: none)."""
    if not CREDENTIALS_FILE.exists():
        return {}
    pairs = (line.split(" ", 1) for line in CREDENTIALS_FILE.read_text().splitlines())
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2 and pair[1]}


def _write_private(path: Path, text: str) -> None:
    """Write the file as mode 0600 from its creation (never readable by others, even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.replace(temporary, path)
