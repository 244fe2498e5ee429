"""Parameters of the curation pipelines, validated before anything starts (DRF serializers)."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, serializers

from curation import scope_access
from curation.gene_files import FORMATS, UnparseableFile, check_prefix
from curation.models import Scope
from curation.pipeline import no_sources_message
from progress import conf as progress_conf


class ScopeField(serializers.CharField):
    """A scope's name, checked against the user in the serializer's context (pipeline_start
    puts it there; "trusted" is the operator, who may use every scope)."""

    # A text field with a bounded list of the user's scopes (scope_access.MAX_SCOPE_CHOICES);
    # the API searches the rest: GET /api/v1/pipelines/<name>/suggestions/?field=scope.
    creates_new_values = False

    def suggestions(self, *, search: str = "") -> tuple[list[str], int]:
        choices = scope_access.scope_choices(self._user(), search=search)
        return choices.names, choices.more

    def _user(self) -> Any:
        return self.context.get("user")

    def _trusted(self) -> bool:
        return bool(self.context.get("trusted"))

    def _require_usable(self, scope: Scope) -> None:
        """A 403 (the API's and the start page's) for a scope the user may not use."""
        if self._trusted():
            return
        try:
            scope_access.require_usable(self._user(), scope)
        except scope_access.ScopeNotPermitted as exc:
            raise exceptions.PermissionDenied(str(exc)) from None

    def _known_text(self) -> str:
        """The scopes an error may name: the user's own, bounded."""
        if self._trusted():
            return scope_access.scope_choices(None, every=True).text()
        return scope_access.scope_choices(self._user()).text()


class ScopeChoiceField(ScopeField):
    """An existing scope the user may use, by name. A string in the OpenAPI schema (scopes
    are data, not API); the start forms suggest the user's scopes."""

    # What the start forms call leaving an optional scope empty.
    empty_label = "All scopes"

    def to_internal_value(self, data: Any) -> str:
        name = super().to_internal_value(data)
        scope = Scope.objects.filter(name=name).first()
        if scope is None:
            raise serializers.ValidationError(
                f"No scope {name!r}; your scopes: {self._known_text()}."
            )
        self._require_usable(scope)
        return name


class ScopeNameField(ScopeField, serializers.SlugField):
    """A scope's name: one the user may use, or a new one (the import creates it, theirs)."""

    creates_new_values = True
    default_error_messages = {
        "invalid": "Use only letters, digits, hyphens and underscores (e.g. kidney-2024).",
    }

    def to_internal_value(self, data: Any) -> str:
        name = super().to_internal_value(data)
        scope = Scope.objects.filter(name=name).first()
        if scope is not None:
            self._require_usable(scope)
        return name


class ScopePipelineParameters(serializers.Serializer[Any]):
    scope = ScopeChoiceField(help_text="The scope to refresh, validate, score and summarise.")

    def validate_scope(self, name: str) -> str:
        """Refuse a scope without sources: its run would import nothing (see pipeline.py)."""
        scope = Scope.objects.get(name=name)
        if not scope.sources:
            raise serializers.ValidationError(no_sources_message(scope))
        return name


class OptionalScopeParameters(serializers.Serializer[Any]):
    scope = ScopeChoiceField(
        required=False, help_text="Only this scope (default: all; only staff may use all)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Every scope at once is staff's (or the operator's): it writes to other users' data."""
        everything = "scope" not in attrs and not self.context.get("trusted")
        if everything and not scope_access.may_use_every_scope(self.context.get("user")):
            raise exceptions.PermissionDenied(
                "Only staff may run this over every scope; choose one of your scopes."
            )
        return attrs


class GeneImportParameters(serializers.Serializer[Any]):
    file = serializers.FileField(help_text="Panel JSON, CSV or TSV gene list.")
    scope = ScopeNameField(
        max_length=100, default="default", help_text="Scope to add the genes to (created if new)."
    )
    format = serializers.ChoiceField(choices=list(FORMATS), default="auto")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Refuse an oversized file, or one whose first rows cannot be parsed, before a run
        is created. The task checks the whole file before writing anything."""
        upload = attrs["file"]
        limit = progress_conf.get("MAX_UPLOAD_BYTES")
        if upload.size > limit:
            raise serializers.ValidationError(
                {
                    "file": f"The file is {upload.size} bytes; the limit is {limit} "
                    '(PROGRESS["MAX_UPLOAD_BYTES"]). Split it into smaller files.'
                }
            )
        try:
            upload.seek(0)
            check_prefix(upload, name=upload.name or "upload", fmt=attrs["format"])
        except UnparseableFile as exc:
            raise serializers.ValidationError({"file": str(exc)}) from None
        finally:
            upload.seek(0)
        return attrs
