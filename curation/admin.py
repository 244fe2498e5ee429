"""Admin for the curation models, with list displays a curator can scan."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from curation.models import Curation, CurationSchema, Gene, Scope, ScopeGene
from curation.scoring_run import SCORE_FIELDS
from curation.validation_run import VALIDATION_FIELDS


@admin.register(Gene)
class GeneAdmin(admin.ModelAdmin):
    list_display = ["approved_symbol", "hgnc_id", "location", "chromosome", "updated_at"]
    search_fields = ["approved_symbol", "hgnc_id", "previous_symbols", "alias_symbols"]
    list_filter = ["chromosome"]


class ScopeGeneInline(admin.TabularInline):
    model = ScopeGene
    extra = 0
    raw_id_fields = ["gene"]
    fields = ["gene", "panels", "added_at"]
    readonly_fields = ["added_at"]


@admin.register(Scope)
class ScopeAdmin(admin.ModelAdmin):
    list_display = ["name", "title", "owner", "gene_count", "created_at"]
    search_fields = ["name", "title"]
    readonly_fields = ["summary"]
    raw_id_fields = ["owner"]  # a select of every user would grow without bound

    def get_readonly_fields(self, request: HttpRequest, obj: Scope | None = None) -> list[str]:
        """Sources name server files the pipeline reads: only superusers may change them."""
        if request.user.is_superuser:
            return list(self.readonly_fields)
        return [*self.readonly_fields, "sources"]

    @admin.display(description="genes")
    def gene_count(self, obj: Scope) -> int:
        return obj.genes.count()


@admin.register(CurationSchema)
class CurationSchemaAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "created_at"]


@admin.register(Curation)
class CurationAdmin(admin.ModelAdmin):
    list_display = [
        "gene",
        "disease",
        "inheritance",
        "scope",
        "status",
        "total_score",
        "classification",
        "needs_expert_review",
        "valid",
        "scored_at",
    ]
    list_filter = ["status", "classification", "scope", "inheritance"]
    search_fields = ["gene__approved_symbol", "gene__hgnc_id", "disease", "mondo_id"]
    list_select_related = ["gene", "scope"]
    raw_id_fields = ["gene"]
    # Computed by the scoring and validation runs, never edited by hand.
    readonly_fields = [*SCORE_FIELDS, "review_reason", *VALIDATION_FIELDS]

    @admin.display(description="valid", boolean=True)
    def valid(self, obj: Curation) -> bool | None:
        report = obj.validation_report or {}
        return report.get("valid") if report else None

    @admin.display(description="expert review", boolean=True)
    def needs_expert_review(self, obj: Curation) -> bool | None:
        """Contradictory evidence flagged: the class stands until an expert panel weighs it."""
        return (obj.score_breakdown or {}).get("needs_expert_review") if obj.scored_at else None

    @admin.display(description="why expert review")
    def review_reason(self, obj: Curation) -> str:
        return (obj.score_breakdown or {}).get("review_reason") or "-"
