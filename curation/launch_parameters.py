"""Parameters of the curation pipelines, validated before anything starts (DRF serializers)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from curation.gene_files import FORMATS, UnparseableFile, check_prefix
from curation.models import Scope
from curation.pipeline import no_sources_message
from progress import conf as progress_conf

# Existing scope names a start form suggests for a new one.
MAX_SUGGESTIONS = 500


class ScopeChoiceField(serializers.CharField):
    """An existing scope, by name. A string in the OpenAPI schema (scopes are data, not API);
    the start forms offer the current names through choice_values()."""

    # What the start forms call leaving an optional scope empty.
    empty_label = "All scopes"

    def choice_values(self) -> list[str]:
        return list(Scope.objects.order_by("name").values_list("name", flat=True))

    def to_internal_value(self, data: Any) -> str:
        name = super().to_internal_value(data)
        if not Scope.objects.filter(name=name).exists():
            known = ", ".join(self.choice_values()) or "none yet"
            raise serializers.ValidationError(f"No scope {name!r}; known scopes: {known}.")
        return name


class ScopeNameField(serializers.SlugField):
    """A scope's name, existing or new; the start forms suggest the existing names."""

    default_error_messages = {
        "invalid": "Use only letters, digits, hyphens and underscores (e.g. kidney-2024).",
    }

    def suggestions(self) -> list[str]:
        return list(Scope.objects.order_by("name").values_list("name", flat=True)[:MAX_SUGGESTIONS])


class ScopePipelineParameters(serializers.Serializer[Any]):
    scope = ScopeChoiceField(help_text="The scope to refresh, validate, score and summarise.")

    def validate_scope(self, name: str) -> str:
        """Refuse a scope without sources: its run would import nothing (see pipeline.py)."""
        scope = Scope.objects.get(name=name)
        if not scope.sources:
            raise serializers.ValidationError(no_sources_message(scope))
        return name


class OptionalScopeParameters(serializers.Serializer[Any]):
    scope = ScopeChoiceField(required=False, help_text="Only this scope (default: all).")


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
