"""The default "ClinGen SOP v11" curation schema, in the format of curation.schema_validation."""

from __future__ import annotations

from typing import Any

from curation import scoring

SCHEMA_NAME = "ClinGen SOP v11"
SCHEMA_VERSION = "11"
MONDO_PATTERN = r"MONDO:\d{7}"
# Modes of inheritance that the SOP (Table 1) lets the GCI score or publish.
INHERITANCE_OPTIONS = [
    "autosomal_dominant",
    "autosomal_recessive",
    "x_linked",
    "semidominant",
    "mitochondrial",
    "undetermined",
]
# Select options come from curation.scoring's tables so the form and the scorer agree.
WORKFLOW_STATES = ["draft", "submitted", "in_review", "approved", "rejected", "active", "archived"]


def _item_fields(path: str, kinds: list[str], kind_key: str, max_points: float) -> list[dict]:
    """Return the fields shared by scored evidence items under ``path``."""
    return [
        {"name": path, "type": "list"},
        {"name": f"{path}[].pmid", "type": "pmid", "required": True, "label": "PMID"},
        {"name": f"{path}[].{kind_key}", "type": "select", "options": kinds, "required": True},
        {"name": f"{path}[].points", "type": "score", "max": max_points, "required": True},
        {"name": f"{path}[].variants[].notes", "type": "text", "label": "Rationale"},
        {"name": f"{path}[].notes", "type": "text", "label": "Rationale for the points"},
    ]


def _experimental_fields() -> list[dict]:
    """Return the experimental evidence fields (SOP Figure 8)."""
    fields: list[dict] = []
    for section, maxima in scoring.MAX_POINTS_PER_EXPERIMENT.items():
        fields += _item_fields(
            f"experimental.{section}", list(maxima), "kind", max(maxima.values())
        )
    return fields


def _case_level_fields() -> list[dict]:
    """Return the proband fields (SOP Figure 2); scoring checks the points per variant type."""
    path = "genetic.case_level"
    types = list(scoring.VARIANT_TYPES)
    top = scoring.MAX_POINTS_PER_BIALLELIC_CASE
    # variant_type and points are not required here: a biallelic proband gives them per
    # allele under "variants", absent points take the SOP default, and scoring reports a
    # missing variant type with the reason.
    default_help = "Leave empty for the SOP default of the variant type."
    return [
        {"name": path, "type": "list"},
        {"name": f"{path}[].pmid", "type": "pmid", "required": True, "label": "PMID"},
        {"name": f"{path}[].proband", "type": "text", "label": "Proband label"},
        {
            "name": f"{path}[].variant_type",
            "type": "select",
            "options": types,
            "help": "Required unless the alleles are listed under variants.",
        },
        {"name": f"{path}[].points", "type": "score", "max": top, "help": default_help},
        {"name": f"{path}[].biallelic", "type": "boolean"},
        {"name": f"{path}[].de_novo", "type": "boolean"},
        {"name": f"{path}[].variants", "type": "list", "label": "Alleles (biallelic)"},
        {
            "name": f"{path}[].variants[].variant_type",
            "type": "select",
            "options": types,
            "required": True,
        },
        {"name": f"{path}[].variants[].hgvs", "type": "text", "label": "Variant (HGVS)"},
        {"name": f"{path}[].variants[].points", "type": "score", "max": top, "help": default_help},
        {"name": f"{path}[].variants[].notes", "type": "text", "label": "Rationale"},
        {"name": f"{path}[].notes", "type": "text", "label": "Rationale for the points"},
    ]


CLINGEN_SCHEMA: dict[str, Any] = {
    "name": SCHEMA_NAME,
    "version": SCHEMA_VERSION,
    "description": "ClinGen Gene-Disease Validity curation per SOP version 11 (September 2024).",
    "fields": [
        {"name": "hgnc_id", "type": "hgnc_id", "label": "Gene (HGNC id)"},
        {
            "name": "mondo_id",
            "type": "text",
            "required": True,
            "pattern": MONDO_PATTERN,
            "example": "MONDO:0007739",
            "label": "Disease (Mondo id)",
        },
        {
            "name": "inheritance",
            "type": "select",
            "options": INHERITANCE_OPTIONS,
            "required": True,
            "label": "Mode of inheritance",
        },
        *_case_level_fields(),
        {"name": "genetic.segregation.summed_lod", "type": "number", "min": 0},
        {
            "name": "genetic.segregation.approach",
            "type": "select",
            "options": list(scoring.SEGREGATION_APPROACHES),
        },
        *_item_fields(
            "genetic.case_control",
            list(scoring.STUDY_TYPES),
            "study_type",
            scoring.MAX_POINTS_PER_CASE_CONTROL_STUDY,
        ),
        *_experimental_fields(),
        {"name": "publications", "type": "list"},
        {"name": "publications[].pmid", "type": "pmid", "required": True},
        {"name": "publications[].year", "type": "number", "min": 1},
        {"name": "publications[].date", "type": "date"},
        {"name": "contradictory_evidence", "type": "boolean"},
        {"name": "contradictory_description", "type": "text"},
        {
            "name": "expert_assertion",
            "type": "select",
            "options": list(scoring.EXPERT_ASSERTIONS),
        },
        {"name": "evidence_summary", "type": "text", "label": "Evidence summary"},
    ],
    "rules": [
        {"rule": "max_genetic_points", "limit": scoring.MAX_GENETIC_POINTS},
        {"rule": "max_experimental_points", "limit": scoring.MAX_EXPERIMENTAL_POINTS},
        {"rule": "contradictory_needs_description"},
    ],
    "workflow_states": WORKFLOW_STATES,
    "scoring": {
        "method": "clingen_sop_v11",
        # Shown to curators; curation.scoring is the source of these numbers.
        "max_points": {
            **scoring.CATEGORY_MAXIMA,
            "genetic": scoring.MAX_GENETIC_POINTS,
            "experimental": scoring.MAX_EXPERIMENTAL_POINTS,
            "total": scoring.MAX_TOTAL_POINTS,
        },
    },
}
