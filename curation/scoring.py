"""ClinGen Gene-Disease Validity scoring per SOP version 11 (September 2024); pure Python.

Evidence format -- a JSON-able dict. Every section is optional and an absent (or null)
section counts as empty. Keys not listed here (pmid, proband, notes, ...) are ignored::

    {
      "genetic": {
        "case_level": [                      # one item per scored proband (SOP Figure 2)
          {"pmid": "123", "proband": "Smith P1",
           "variant_type": "predicted_null" | "other",  # required (sets the SOP range)
           "de_novo": false,                 # informational: an upgrade goes into "points"
           "points": 1.5},                   # optional: absent takes the SOP default
          {"pmid": "124", "proband": "Lee P2", "biallelic": true,  # autosomal recessive
           "variants": [                     # both alleles; a homozygous variant twice
             {"variant_type": "predicted_null", "points": 1.5},
             {"variant_type": "other"}]}     # each allele in its own type's range
        ],
        "segregation": {"summed_lod": 3.2,   # LOD summed over all qualifying families
                        "approach": "candidate_gene" | "exome_genome"},
        "case_control": [
          {"pmid": "456", "study_type": "single_variant" | "aggregate_variant", "points": 3}
        ]
      },
      "experimental": {                      # each item: {"kind": ..., "points": ...} (SOP Fig. 8)
        "function": [{"kind": "biochemical" | "protein_interaction" | "expression", ...}],
        "functional_alteration": [{"kind": "patient_cells" | "non_patient_cells", ...}],
        "models": [{"kind": "non_human_model_organism" | "cell_culture_model", ...}],
        "rescue": [{"kind": "human" | "non_human_model_organism" | "cell_culture_model"
                            | "patient_cells", ...}]
      },
      "publications": [{"pmid": "123", "year": 2015}],  # or "date": "2015-06-01"
      "contradictory_evidence": false, "contradictory_description": "",
      "expert_assertion": null | "disputed" | "refuted"
    }

Case-level variant evidence (SOP Figure 2). Every proband needs a variant_type; without one
it is an EvidenceError, because the type sets the range. Points range by type: predicted or
proven null 0-3 (default 1.5), other variant type 0-1.5 (default 0.1). A de novo upgrade
stays within that range. A proband without "points" gets its type's default and is listed
in ``defaulted_probands``. A biallelic proband lists its two alleles under "variants"; each
allele is checked against its own type's range (and defaulted the same way), then the sum is
capped at 3 points per proband. The older single-entry form (biallelic true with one
variant_type and points) reads as two alleles of that type: 0-3, default twice the type's.

Other per-item maxima (top of each SOP range; more is an EvidenceError, not capped):
case-control study 6 (Figure 2); biochemical / protein interaction / expression 2; patient
cells 2, non-patient cells 1; non-human model organism 4, cell culture model 2; rescue in
human 4, non-human model organism 4, cell culture model 2, patient cells 2 (Figure 8). An
experimental item without "kind" is limited only by its category maximum.

Category maxima (summed evidence is capped, as the SOP directs): case-level 12, segregation 3
(Figure 6 table), case-control 12, genetic 12; function 2, functional alteration 2, models +
rescue 4, experimental 6; total 18.

Classification (SOP Figure 9). Limited and above need human genetic evidence: 0 genetic
points -> No Known Disease Relationship whatever the experimental points, and experimental
points alone set ``animal_model_only`` (the GCI's "Animal Model Only" tag). With genetic
points: total below 7 -> Limited; 7 to below 12 -> Moderate; 12 or more -> Strong, or
Definitive when replicated over time. The matrix lists integer bands (0.1-6, 7-11, 12-18); 7
and 12 are the minimums "to reach" Moderate and Strong, so 6.5 stays Limited and 11.5 stays
Moderate.

Replicated over time (Figure 9, column D): counting only publications dated on or before
``as_of``, more than 2 distinct publications AND more than 3 years between the earliest and
``as_of``. A publication given only by year is dated 31 December of that year so replication
is never overstated; the same PMID twice is one publication.

An expert assertion ("disputed"/"refuted") overrides the computed class. Limited to
Definitive require "no convincing contradictory evidence" (Figure 9), which only an expert
panel can weigh: contradictory_evidence true keeps the computed class but sets
``needs_expert_review`` with its reason, until the panel records an expert assertion.
Mixed-method segregation (SOP Figure 6 formula) is not computed: enter one summed LOD and
the approach the expert panel agreed on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any


class Classification(StrEnum):
    """Gene-disease validity classifications (SOP v11)."""

    NO_KNOWN_DISEASE_RELATIONSHIP = "No Known Disease Relationship"
    LIMITED = "Limited"
    MODERATE = "Moderate"
    STRONG = "Strong"
    DEFINITIVE = "Definitive"
    DISPUTED = "Disputed"
    REFUTED = "Refuted"


class EvidenceError(ValueError):
    """Evidence that cannot be scored; ``path`` names the offending field."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path


# Category maxima (SOP v11 Figures 2, 8 and 9).
MAX_CASE_LEVEL_POINTS = 12.0
MAX_SEGREGATION_POINTS = 3.0
MAX_CASE_CONTROL_POINTS = 12.0
MAX_GENETIC_POINTS = 12.0
MAX_FUNCTION_POINTS = 2.0
MAX_FUNCTIONAL_ALTERATION_POINTS = 2.0
MAX_MODELS_RESCUE_POINTS = 4.0
MAX_EXPERIMENTAL_POINTS = 6.0
MAX_TOTAL_POINTS = 18.0

CATEGORY_MAXIMA: dict[str, float] = {
    "case_level": MAX_CASE_LEVEL_POINTS,
    "segregation": MAX_SEGREGATION_POINTS,
    "case_control": MAX_CASE_CONTROL_POINTS,
    "function": MAX_FUNCTION_POINTS,
    "functional_alteration": MAX_FUNCTIONAL_ALTERATION_POINTS,
    "models_rescue": MAX_MODELS_RESCUE_POINTS,
}
GENETIC_CATEGORIES = ("case_level", "segregation", "case_control")
EXPERIMENTAL_CATEGORIES = ("function", "functional_alteration", "models_rescue")

# Case-level points by variant type (SOP Figure 2): the default and the top of the range,
# for a proband and for each allele of a biallelic proband.
VARIANT_TYPES = ("predicted_null", "other")
DEFAULT_POINTS_PER_VARIANT: dict[str, float] = {"predicted_null": 1.5, "other": 0.1}
MAX_POINTS_PER_VARIANT: dict[str, float] = {"predicted_null": 3.0, "other": 1.5}
MAX_POINTS_PER_BIALLELIC_CASE = 3.0
ALLELES_PER_BIALLELIC_CASE = 2
MAX_POINTS_PER_CASE_CONTROL_STUDY = 6.0
STUDY_TYPES = ("single_variant", "aggregate_variant")
MAX_POINTS_PER_EXPERIMENT: dict[str, dict[str, float]] = {
    "function": {"biochemical": 2.0, "protein_interaction": 2.0, "expression": 2.0},
    "functional_alteration": {"patient_cells": 2.0, "non_patient_cells": 1.0},
    "models": {"non_human_model_organism": 4.0, "cell_culture_model": 2.0},
    "rescue": {
        "human": 4.0,
        "non_human_model_organism": 4.0,
        "cell_culture_model": 2.0,
        "patient_cells": 2.0,
    },
}
EXPERIMENT_CATEGORY = {
    "function": "function",
    "functional_alteration": "functional_alteration",
    "models": "models_rescue",
    "rescue": "models_rescue",
}

# SOP Figure 6, highest row first: (lowest summed LOD of the row, points by approach).
SEGREGATION_APPROACHES = ("candidate_gene", "exome_genome")
SEGREGATION_TABLE: tuple[tuple[float, dict[str, float]], ...] = (
    (5.0, {"candidate_gene": 1.5, "exome_genome": 3.0}),
    (3.0, {"candidate_gene": 1.0, "exome_genome": 2.0}),
    (2.0, {"candidate_gene": 0.5, "exome_genome": 1.0}),
)

MODERATE_MIN_POINTS = 7.0
STRONG_MIN_POINTS = 12.0
# Replicated only when MORE than this many years have passed and MORE than this many
# publications exist (SOP Figure 9, column D: "> 3 years" and "> 2 pubs").
REPLICATION_YEARS = 3
REPLICATION_PUBLICATIONS = 2

EXPERT_ASSERTIONS = {"disputed": Classification.DISPUTED, "refuted": Classification.REFUTED}
DECIMALS = 2
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class ScoreResult:
    """Capped scores, the resulting classification and what a curator must know about it."""

    genetic: float
    experimental: float
    total: float
    classification: str
    breakdown: dict[str, float]
    replicated: bool
    animal_model_only: bool = False
    needs_expert_review: bool = False
    review_reason: str = ""
    # {"path", "proband", "variant_type", "points"} for each proband or allele given the default.
    defaulted_probands: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-able copy."""
        return asdict(self)


def score_evidence(evidence: Mapping[str, Any], *, as_of: date) -> ScoreResult:
    """Score evidence per SOP v11; raise EvidenceError for evidence that cannot be scored."""
    evidence = _mapping(evidence, "evidence")
    defaulted: list[dict[str, Any]] = []
    uncapped = _category_points(evidence, defaulted)
    breakdown = {name: _cap(points, CATEGORY_MAXIMA[name]) for name, points in uncapped.items()}
    genetic = _cap(_sum(breakdown[name] for name in GENETIC_CATEGORIES), MAX_GENETIC_POINTS)
    experimental = _cap(
        _sum(breakdown[name] for name in EXPERIMENTAL_CATEGORIES), MAX_EXPERIMENTAL_POINTS
    )
    total = _cap(genetic + experimental, MAX_TOTAL_POINTS)
    replicated = is_replicated(evidence.get("publications"), as_of=as_of)
    classification = classify(
        total,
        genetic=genetic,
        replicated=replicated,
        expert_assertion=evidence.get("expert_assertion"),
    )
    review_reason = expert_review_reason(evidence)
    return ScoreResult(
        genetic,
        experimental,
        total,
        classification,
        breakdown,
        replicated,
        animal_model_only=genetic == 0 and experimental > 0,
        needs_expert_review=bool(review_reason),
        review_reason=review_reason,
        defaulted_probands=defaulted,
    )


def uncapped_points(evidence: Mapping[str, Any]) -> dict[str, float]:
    """Return genetic and experimental points as entered (or defaulted), before category caps."""
    uncapped = category_points(_mapping(evidence, "evidence"))
    return {
        "genetic": _sum(uncapped[name] for name in GENETIC_CATEGORIES),
        "experimental": _sum(uncapped[name] for name in EXPERIMENTAL_CATEGORIES),
    }


def category_points(evidence: Mapping[str, Any]) -> dict[str, float]:
    """Return the uncapped points of each SOP category (keys of CATEGORY_MAXIMA)."""
    return _category_points(evidence, [])


def _category_points(
    evidence: Mapping[str, Any], defaulted: list[dict[str, Any]]
) -> dict[str, float]:
    """Return the uncapped points of each category; probands given defaults go to defaulted."""
    genetic = _mapping(evidence.get("genetic"), "genetic")
    experimental = _mapping(evidence.get("experimental"), "experimental")
    models_rescue = _experiment_points(experimental, "models") + _experiment_points(
        experimental, "rescue"
    )
    return {
        "case_level": _case_level_points(genetic, defaulted),
        "segregation": segregation_points(genetic.get("segregation")),
        "case_control": _case_control_points(genetic),
        "function": _experiment_points(experimental, "function"),
        "functional_alteration": _experiment_points(experimental, "functional_alteration"),
        "models_rescue": _round(models_rescue),
    }


def segregation_points(segregation: Mapping[str, Any] | None) -> float:
    """Return segregation points for a summed LOD and sequencing approach (SOP Figure 6)."""
    path = "genetic.segregation"
    segregation = _mapping(segregation, path)
    approach = _choice(segregation, "approach", SEGREGATION_APPROACHES, path)
    lod = segregation.get("summed_lod")
    if lod is None:
        return 0.0
    if not _is_number(lod):
        raise EvidenceError(f"{path}.summed_lod", f"{lod!r} is not a number; enter e.g. 3.2")
    if lod < 0:
        # The simplified SOP LOD is never negative; a negative published LOD argues against
        # linkage and belongs in contradictory evidence rather than in the score.
        raise EvidenceError(
            f"{path}.summed_lod",
            f"{lod!r} is negative; record evidence against linkage as contradictory evidence",
        )
    if approach is None:
        raise EvidenceError(
            f"{path}.approach",
            f"required when summed_lod is given; use one of: {', '.join(SEGREGATION_APPROACHES)}",
        )
    for lowest_lod, points_by_approach in SEGREGATION_TABLE:
        if lod >= lowest_lod:
            return points_by_approach[approach]
    return 0.0


def is_replicated(publications: Any, *, as_of: date) -> bool:
    """Return whether more than 2 publications up to ``as_of`` span more than 3 years to it."""
    first_seen: dict[str, date] = {}
    for index, publication in enumerate(_items(publications, "publications")):
        path = f"publications[{index}]"
        published = _publication_date(publication, path)
        # The same PMID entered twice is one publication.
        pmid = publication.get("pmid")
        key = f"pmid:{pmid}" if pmid not in (None, "") else f"item:{index}"
        first_seen[key] = min(published, first_seen.get(key, published))
    # A score as of a past date must not see what was published after it.
    known = [published for published in first_seen.values() if published <= as_of]
    if len(known) <= REPLICATION_PUBLICATIONS:
        return False
    return as_of > _add_years(min(known), REPLICATION_YEARS)


def classify(
    total: float, *, genetic: float, replicated: bool, expert_assertion: str | None = None
) -> str:
    """Return the classification for capped total and genetic points, replication and assertion."""
    if expert_assertion not in (None, ""):
        if not isinstance(expert_assertion, str) or expert_assertion not in EXPERT_ASSERTIONS:
            raise EvidenceError(
                "expert_assertion",
                f"{expert_assertion!r} is not an expert assertion; use null, "
                f"{' or '.join(repr(name) for name in EXPERT_ASSERTIONS)}",
            )
        return EXPERT_ASSERTIONS[expert_assertion].value
    # Limited and above need human genetic evidence; experimental evidence alone is NKDR.
    if genetic <= 0 or total <= 0:
        return Classification.NO_KNOWN_DISEASE_RELATIONSHIP.value
    if total < MODERATE_MIN_POINTS:
        return Classification.LIMITED.value
    if total < STRONG_MIN_POINTS:
        return Classification.MODERATE.value
    return (Classification.DEFINITIVE if replicated else Classification.STRONG).value


def expert_review_reason(evidence: Mapping[str, Any]) -> str:
    """Return why an expert panel must review the computed class, or "" when nothing asks."""
    if not _flag(evidence.get("contradictory_evidence"), "contradictory_evidence"):
        return ""
    if evidence.get("expert_assertion") not in (None, ""):
        return ""  # the panel has weighed the evidence and recorded its verdict
    description = evidence.get("contradictory_description")
    detail = description.strip() if isinstance(description, str) else ""
    return (
        f"contradictory evidence is flagged ({detail or 'not described'}); SOP v11 classes "
        "Limited to Definitive require no convincing contradictory evidence, so an expert "
        "panel must weigh it and record 'disputed' or 'refuted' in expert_assertion, or clear "
        "the flag"
    )


def _case_level_points(genetic: Mapping[str, Any], defaulted: list[dict[str, Any]]) -> float:
    """Sum validated proband points (uncapped); probands given defaults go to defaulted."""
    path = "genetic.case_level"
    points = []
    for index, case in enumerate(_items(genetic.get("case_level"), path)):
        item_path = f"{path}[{index}]"
        _flag(case.get("de_novo"), f"{item_path}.de_novo")
        label = case.get("proband")
        biallelic = _flag(case.get("biallelic"), f"{item_path}.biallelic")
        if biallelic or case.get("variants") is not None:
            points.append(_biallelic_case_points(case, item_path, label, defaulted))
        else:
            points.append(_variant_points(case, item_path, label, defaulted))
    return _sum(points)


def _biallelic_case_points(
    case: Mapping[str, Any], path: str, label: Any, defaulted: list[dict[str, Any]]
) -> float:
    """Return a biallelic proband's points: each allele in its type's range, summed, capped."""
    if case.get("biallelic") is False:
        raise EvidenceError(
            f"{path}.variants",
            "lists alleles but biallelic is false; set biallelic to true, or remove variants "
            "and give the proband's variant_type and points",
        )
    if case.get("variants") is None:
        # The single-entry form: both alleles are of the proband's variant type.
        return _variant_points(case, path, label, defaulted, alleles=ALLELES_PER_BIALLELIC_CASE)
    for key in ("variant_type", "points"):
        if case.get(key) is not None:
            raise EvidenceError(
                f"{path}.{key}",
                "not allowed next to variants; give it on each allele under variants",
            )
    alleles = _items(case.get("variants"), f"{path}.variants")
    if len(alleles) != ALLELES_PER_BIALLELIC_CASE:
        raise EvidenceError(
            f"{path}.variants",
            f"lists {len(alleles)} alleles; list both (a homozygous variant twice)",
        )
    points = [
        _variant_points(allele, f"{path}.variants[{index}]", label, defaulted)
        for index, allele in enumerate(alleles)
    ]
    return min(_sum(points), MAX_POINTS_PER_BIALLELIC_CASE)


def _variant_points(
    item: Mapping[str, Any],
    path: str,
    label: Any,
    defaulted: list[dict[str, Any]],
    *,
    alleles: int = 1,
) -> float:
    """Return the points of ``alleles`` alleles of the item's variant type; absent: the default."""
    variant_type = _choice(item, "variant_type", VARIANT_TYPES, path)
    if variant_type is None:
        raise EvidenceError(
            f"{path}.variant_type",
            f"missing; the variant type sets the SOP points range, use one of: "
            f"{', '.join(VARIANT_TYPES)}",
        )
    if item.get("points") is None:
        points = _round(DEFAULT_POINTS_PER_VARIANT[variant_type] * alleles)
        defaulted.append(
            {"path": path, "proband": label, "variant_type": variant_type, "points": points}
        )
        return points
    maximum = min(MAX_POINTS_PER_VARIANT[variant_type] * alleles, MAX_POINTS_PER_BIALLELIC_CASE)
    what = f"variant type {variant_type!r}" + ("" if alleles == 1 else " on both alleles")
    return _points(item, path, maximum, what=what)


def _flag(value: Any, path: str) -> bool:
    """Return value as a bool (absent or null is false); raise if it is something else."""
    if value is not None and not isinstance(value, bool):
        raise EvidenceError(path, f"{value!r} is not true or false")
    return bool(value)


def _case_control_points(genetic: Mapping[str, Any]) -> float:
    """Sum validated case-control study points (uncapped)."""
    path = "genetic.case_control"
    points = []
    for index, study in enumerate(_items(genetic.get("case_control"), path)):
        item_path = f"{path}[{index}]"
        _choice(study, "study_type", STUDY_TYPES, item_path)
        points.append(_points(study, item_path, MAX_POINTS_PER_CASE_CONTROL_STUDY))
    return _sum(points)


def _experiment_points(experimental: Mapping[str, Any], section: str) -> float:
    """Sum validated points of one experimental section (uncapped)."""
    path = f"experimental.{section}"
    maxima = MAX_POINTS_PER_EXPERIMENT[section]
    category_maximum = CATEGORY_MAXIMA[EXPERIMENT_CATEGORY[section]]
    points = []
    for index, item in enumerate(_items(experimental.get(section), path)):
        item_path = f"{path}[{index}]"
        kind = _choice(item, "kind", tuple(maxima), item_path)
        points.append(_points(item, item_path, category_maximum if kind is None else maxima[kind]))
    return _sum(points)


def _points(
    item: Mapping[str, Any], path: str, maximum: float, *, what: str = "this item"
) -> float:
    """Return an item's points after checking they are a number within 0..maximum."""
    path = f"{path}.points"
    value = item.get("points")
    if value is None:
        raise EvidenceError(path, "missing; enter the curated points (0 to record unscored)")
    if not _is_number(value):
        raise EvidenceError(path, f"{value!r} is not a number; enter points such as 1.5")
    if value < 0:
        raise EvidenceError(path, f"{value!r} is negative; points range from 0 to {maximum:g}")
    if value > maximum:
        raise EvidenceError(
            path, f"{value!r} is above the SOP v11 maximum of {maximum:g} for {what}"
        )
    return float(value)


def _choice(item: Mapping[str, Any], key: str, allowed: tuple[str, ...], path: str) -> str | None:
    """Return item[key] if it is one of ``allowed``, None if absent; raise otherwise."""
    value = item.get(key)
    if value is None:
        return None
    if value not in allowed:
        raise EvidenceError(
            f"{path}.{key}", f"{value!r} is not known; use one of: {', '.join(allowed)}"
        )
    return str(value)


def _publication_date(publication: Mapping[str, Any], path: str) -> date:
    """Return a publication's date; a bare year counts as its last day (conservative)."""
    published = publication.get("date")
    if published is not None:
        if not isinstance(published, str) or not ISO_DATE.fullmatch(published):
            raise EvidenceError(f"{path}.date", f"{published!r} is not a date (yyyy-mm-dd)")
        try:
            return date.fromisoformat(published)
        except ValueError:
            raise EvidenceError(f"{path}.date", f"{published!r} is not a real date") from None
    year = publication.get("year")
    if year is None:
        raise EvidenceError(
            path, "needs 'year' (e.g. 2015) or 'date' (yyyy-mm-dd) to judge replication"
        )
    if isinstance(year, bool) or not isinstance(year, int):
        raise EvidenceError(f"{path}.year", f"{year!r} is not a year; enter e.g. 2015")
    if not date.min.year <= year <= date.max.year:
        raise EvidenceError(f"{path}.year", f"{year!r} is not a year; enter e.g. 2015")
    return date(year, 12, 31)


def _add_years(start: date, years: int) -> date:
    """Return the same calendar day ``years`` later (29 February becomes 28 February)."""
    if start.year + years > date.max.year:
        return date.max
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return start.replace(year=start.year + years, day=28)


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    """Return value as a mapping, {} for None; raise if it is something else."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise EvidenceError(path, f"expected an object with named fields, got {_type(value)}")
    return value


def _items(value: Any, path: str) -> list[Mapping[str, Any]]:
    """Return value as a list of mappings, [] for None; raise if it is something else."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise EvidenceError(path, f"expected a list of items, got {_type(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise EvidenceError(
                f"{path}[{index}]", f"expected an object with named fields, got {_type(item)}"
            )
    return value


def _is_number(value: Any) -> bool:
    """Return whether value is a finite int or float (booleans are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _type(value: Any) -> str:
    """Return a curator-friendly name for value's JSON type."""
    names = {
        str: "text",
        bool: "true/false",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "an object",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def _cap(points: float, maximum: float) -> float:
    """Return points limited to maximum, rounded."""
    return _round(min(points, maximum))


def _sum(points: Any) -> float:
    """Return the rounded, float-exact sum of points."""
    return _round(math.fsum(points))


def _round(points: float) -> float:
    """Round to DECIMALS so 0.1 + 0.2 reads 0.3; adding 0.0 turns -0.0 into 0.0."""
    return round(points, DECIMALS) + 0.0
