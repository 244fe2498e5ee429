"""Tests for ClinGen SOP v11 scoring; expected values come from the SOP figures, not the code."""

from __future__ import annotations

import io
import json
import re
from datetime import date

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from curation.factories import CurationFactory, ScopeFactory
from curation.pipeline import scope_summary
from curation.scoring import (
    Classification,
    EvidenceError,
    classify,
    is_replicated,
    score_evidence,
    uncapped_points,
)
from curation.scoring_run import curations_score
from curation.tasks import calculate_scores_task
from progress.limits import MAX_FAILURES_KEPT
from progress.models import OperationProgress, Status
from progress.testing import flush
from progress.tracker import track_operation

TODAY = date(2024, 6, 1)


def _cases(*points: float, variant_type: str = "predicted_null") -> list[dict]:
    """Return case-level items with the given points."""
    return [
        {"pmid": str(100 + i), "variant_type": variant_type, "points": p}
        for i, p in enumerate(points)
    ]


def _score(evidence: dict, as_of: date = TODAY):
    """Score evidence as of TODAY."""
    return score_evidence(evidence, as_of=as_of)


def _genetic_only(points: float) -> dict:
    """Return evidence whose only points are one null case per 3 points (plus a remainder)."""
    full, remainder = divmod(points, 3)
    items = [3.0] * int(full) + ([remainder] if remainder else [])
    return {"genetic": {"case_level": _cases(*items)}}


def _total(points: float) -> dict:
    """Return evidence totalling ``points`` (at most 18): genetic first, then models."""
    genetic = min(points, 12)
    evidence = _genetic_only(genetic)
    if points > genetic:
        evidence["experimental"] = {"models": [{"points": min(points - genetic, 4)}]}
        if points - genetic > 4:
            evidence["experimental"]["function"] = [{"points": points - genetic - 4}]
    return evidence


REPLICATED_PUBLICATIONS = [
    {"pmid": "1", "year": 2001},
    {"pmid": "2", "year": 2005},
    {"pmid": "3", "year": 2010},
]


# --- classification boundaries (SOP Figure 9) --------------------------------------------


def test_no_evidence_is_no_known_disease_relationship():
    result = _score({})
    assert (result.total, result.classification) == (
        0,
        Classification.NO_KNOWN_DISEASE_RELATIONSHIP,
    )


def test_zero_points_is_no_known_disease_relationship_and_one_tenth_is_limited():
    assert _score({"genetic": {"case_level": _cases(0)}}).classification == (
        "No Known Disease Relationship"
    )
    assert _score(
        {"genetic": {"case_level": _cases(0.1, variant_type="other")}}
    ).classification == ("Limited")


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        (6, "Limited"),
        (6.5, "Limited"),  # between the 0.1-6 and 7-11 bands: 7 has not been reached
        (6.9, "Limited"),
        (7, "Moderate"),
    ],
)
def test_six_points_is_limited_seven_is_moderate(points, expected):
    assert _score(_total(points)).classification == expected


@pytest.mark.parametrize(
    ("points", "expected"),
    [(11, "Moderate"), (11.5, "Moderate"), (11.9, "Moderate"), (12, "Strong")],
)
def test_eleven_points_is_moderate_twelve_is_strong(points, expected):
    assert _score(_total(points)).classification == expected


def test_twelve_points_replicated_over_time_is_definitive():
    evidence = _total(12) | {"publications": REPLICATED_PUBLICATIONS}
    result = _score(evidence)
    assert (result.replicated, result.classification) == (True, "Definitive")


def test_replication_does_not_lift_fewer_than_twelve_points_to_definitive():
    evidence = _total(11.5) | {"publications": REPLICATED_PUBLICATIONS}
    assert _score(evidence).classification == "Moderate"


def test_definitive_counts_total_points_not_genetic_points_alone():
    experimental = {"models": [{"points": 4}], "function": [{"points": 2}]}
    evidence = _genetic_only(10) | {
        "experimental": experimental,
        "publications": REPLICATED_PUBLICATIONS,
    }
    result = _score(evidence)
    assert (result.genetic, result.total, result.classification) == (10, 16, "Definitive")


# --- genetic evidence is needed for Limited and above (SOP Figure 9) ----------------------


def _experimental(points: float) -> dict:
    """Return experimental evidence of ``points`` (at most 6): models first, then function."""
    models = min(points, 4)
    return {"models": [{"points": models}], "function": [{"points": points - models}]}


@pytest.mark.parametrize(
    ("experimental", "animal_model_only"), [(0, False), (0.5, True), (6, True)]
)
def test_no_genetic_points_is_no_known_disease_relationship_whatever_the_experimental_points(
    experimental, animal_model_only
):
    result = _score({"experimental": _experimental(experimental)})
    assert (result.genetic, result.experimental) == (0, experimental)
    assert result.classification == "No Known Disease Relationship"
    assert result.animal_model_only is animal_model_only


def test_probands_scored_zero_are_no_genetic_evidence_so_experimental_points_stay_nkdr():
    evidence = {"genetic": {"case_level": _cases(0, 0)}, "experimental": _experimental(2)}
    result = _score(evidence)
    assert (result.classification, result.animal_model_only) == (
        "No Known Disease Relationship",
        True,
    )


def test_a_tenth_of_a_genetic_point_with_experimental_points_is_limited_not_animal_model_only():
    evidence = {
        "genetic": {"case_level": _cases(0.1, variant_type="other")},
        "experimental": _experimental(0.5),
    }
    result = _score(evidence)
    assert (result.total, result.classification, result.animal_model_only) == (
        0.6,
        "Limited",
        False,
    )


@pytest.mark.parametrize(
    ("genetic", "expected"), [(0, "No Known Disease Relationship"), (0.1, "Limited")]
)
def test_classify_needs_genetic_points_whatever_the_total(genetic, expected):
    assert classify(6, genetic=genetic, replicated=True) == expected


# --- category caps (SOP Figures 2 and 8) --------------------------------------------------


def test_case_level_variant_evidence_is_capped_at_twelve():
    result = _score({"genetic": {"case_level": _cases(3, 3, 3, 3, 3)}})  # 15 entered
    assert (result.breakdown["case_level"], result.genetic) == (12, 12)


@pytest.mark.parametrize(
    ("case", "points"),
    [
        ({"variant_type": "other"}, 1.5),
        ({"variant_type": "predicted_null"}, 3),
        ({"variant_type": "other", "biallelic": True}, 3),  # two variants summed per proband
    ],
)
def test_each_case_may_score_up_to_the_top_of_its_sop_range(case, points):
    result = _score({"genetic": {"case_level": [case | {"points": points}]}})
    assert result.genetic == points


def test_case_control_is_capped_at_twelve():
    studies = [{"pmid": str(i), "study_type": "single_variant", "points": 6} for i in range(3)]
    result = _score({"genetic": {"case_control": studies}})
    assert (result.breakdown["case_control"], result.genetic) == (12, 12)


def test_genetic_evidence_is_capped_at_twelve_across_categories():
    genetic = {
        "case_level": _cases(3, 3, 3),
        "segregation": {"summed_lod": 5, "approach": "exome_genome"},
        "case_control": [{"points": 6}],
    }
    result = _score({"genetic": genetic})  # 9 + 3 + 6 = 18 before the genetic cap
    assert result.genetic == 12


def test_function_is_capped_at_two_for_all_three_kinds_together():
    kinds = ("biochemical", "protein_interaction", "expression")
    function = [{"kind": kind, "points": 1} for kind in kinds]
    result = _score({"experimental": {"function": function}})
    assert (result.breakdown["function"], result.experimental) == (2, 2)


def test_functional_alteration_is_capped_at_two():
    items = [{"kind": "patient_cells", "points": 2}, {"kind": "non_patient_cells", "points": 1}]
    result = _score({"experimental": {"functional_alteration": items}})
    assert result.breakdown["functional_alteration"] == 2


def test_models_and_rescue_together_are_capped_at_four():
    experimental = {
        "models": [{"kind": "non_human_model_organism", "points": 2}],
        "rescue": [{"kind": "human", "points": 2}, {"kind": "patient_cells", "points": 1}],
    }
    result = _score({"experimental": experimental})
    assert (result.breakdown["models_rescue"], result.experimental) == (4, 4)


def test_experimental_evidence_is_capped_at_six():
    experimental = {
        "function": [{"kind": "expression", "points": 2}],
        "functional_alteration": [{"kind": "patient_cells", "points": 2}],
        "models": [{"kind": "non_human_model_organism", "points": 4}],
    }
    assert _score({"experimental": experimental}).experimental == 6


def test_total_is_capped_at_eighteen_when_every_category_is_full():
    evidence = {
        "genetic": {
            "case_level": _cases(3, 3, 3, 3, 3),
            "segregation": {"summed_lod": 9, "approach": "exome_genome"},
            "case_control": [{"points": 6}, {"points": 6}, {"points": 6}],
        },
        "experimental": {
            "function": [{"points": 2}, {"points": 2}],
            "functional_alteration": [{"points": 2}, {"points": 2}],
            "models": [{"points": 4}],
            "rescue": [{"points": 4}],
        },
    }
    result = _score(evidence)
    assert (result.genetic, result.experimental, result.total) == (12, 6, 18)


def test_uncapped_points_report_what_the_curator_entered():
    evidence = {
        "genetic": {"case_level": _cases(3, 3, 3, 3, 2)},
        "experimental": {"models": [{"points": 4}], "rescue": [{"points": 3}]},
    }
    assert uncapped_points(evidence) == {"genetic": 14, "experimental": 7}


# --- segregation (SOP Figure 6) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("summed_lod", "candidate_gene", "exome_genome"),
    [
        (0, 0, 0),
        (1.99, 0, 0),
        (2, 0.5, 1),
        (2.99, 0.5, 1),
        (3, 1, 2),
        (4.99, 1, 2),
        (5, 1.5, 3),
        (12.5, 1.5, 3),  # segregation never exceeds 3 points
    ],
)
def test_segregation_points_follow_the_summed_lod_table(summed_lod, candidate_gene, exome_genome):
    for approach, expected in (("candidate_gene", candidate_gene), ("exome_genome", exome_genome)):
        segregation = {"summed_lod": summed_lod, "approach": approach}
        assert (
            _score({"genetic": {"segregation": segregation}}).breakdown["segregation"] == expected
        )


def test_segregation_without_a_lod_scores_nothing():
    assert _score({"genetic": {"segregation": {"approach": "exome_genome"}}}).genetic == 0


# --- replication over time (SOP Figure 9, column D) ----------------------------------------


def _publications(first: str, count: int) -> list[dict]:
    """Return ``count`` publications, the first dated ``first`` and the rest later."""
    later = [{"pmid": str(i), "year": 2023} for i in range(2, count + 1)]
    return [{"pmid": "1", "date": first}, *later]


@pytest.mark.parametrize(
    ("first", "expected"),
    [("2021-06-01", False), ("2021-05-31", True)],  # exactly 3 years vs 3 years and a day
)
def test_replication_needs_more_than_three_years_since_the_first_publication(first, expected):
    assert is_replicated(_publications(first, 3), as_of=TODAY) is expected


@pytest.mark.parametrize(("count", "expected"), [(2, False), (3, True)])
def test_replication_needs_more_than_two_publications(count, expected):
    assert is_replicated(_publications("2001-01-01", count), as_of=TODAY) is expected


def test_a_publication_year_alone_counts_from_the_end_of_that_year():
    publications = [{"pmid": str(year), "year": year} for year in (2020, 2021, 2022)]
    assert not is_replicated(publications, as_of=date(2023, 12, 31))
    assert is_replicated(publications, as_of=date(2024, 1, 1))


def test_the_same_pmid_listed_twice_is_one_publication():
    publications = [
        {"pmid": "1", "year": 2001},
        {"pmid": 1, "year": 2001},
        {"pmid": "2", "year": 2002},
    ]
    assert not is_replicated(publications, as_of=TODAY)


def test_replication_is_reported_even_below_twelve_points():
    result = _score({"publications": REPLICATED_PUBLICATIONS})
    assert (result.replicated, result.classification) == (True, "No Known Disease Relationship")


def test_publications_after_as_of_do_not_count_towards_replication():
    publications = [
        {"pmid": "1", "year": 2020},
        {"pmid": "2", "year": 2027},
        {"pmid": "3", "year": 2028},
    ]
    assert not is_replicated(publications, as_of=date(2026, 11, 28))
    assert is_replicated(publications, as_of=date(2028, 12, 31))


@pytest.mark.parametrize(("third", "expected"), [("2024-06-01", True), ("2024-06-02", False)])
def test_a_publication_counts_from_its_own_date_on(third, expected):
    publications = [
        {"pmid": "1", "date": "2001-01-01"},
        {"pmid": "2", "date": "2002-01-01"},
        {"pmid": "3", "date": third},
    ]
    assert is_replicated(publications, as_of=TODAY) is expected


@pytest.mark.parametrize(
    ("as_of", "expected"), [("2010-12-30", "Strong"), ("2010-12-31", "Definitive")]
)
def test_scoring_as_of_a_past_date_ignores_the_publications_after_it(as_of, expected):
    evidence = _total(12) | {"publications": REPLICATED_PUBLICATIONS}  # the third is 2010
    assert _score(evidence, as_of=date.fromisoformat(as_of)).classification == expected


# --- expert assertions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("assertion", "expected"), [("disputed", "Disputed"), ("refuted", "Refuted")]
)
def test_expert_assertion_overrides_the_computed_classification(assertion, expected):
    evidence = _total(18) | {"publications": REPLICATED_PUBLICATIONS, "expert_assertion": assertion}
    result = _score(evidence)
    assert (result.total, result.classification) == (18, expected)


@pytest.mark.parametrize("assertion", [None, ""])
def test_no_expert_assertion_keeps_the_computed_classification(assertion):
    assert classify(7, genetic=7, replicated=False, expert_assertion=assertion) == "Moderate"


# --- case-level points per variant type (SOP Figure 2) -----------------------------------


@pytest.mark.parametrize(
    ("case", "path"),
    [
        ({"points": 1.5}, "genetic.case_level[0].variant_type"),
        ({"variant_type": None, "points": 0.1}, "genetic.case_level[0].variant_type"),
        ({"biallelic": True, "points": 3}, "genetic.case_level[0].variant_type"),
        (
            {"variants": [{"variant_type": "other"}, {"points": 1.5}]},
            "genetic.case_level[0].variants[1].variant_type",
        ),
    ],
)
def test_a_proband_without_a_variant_type_is_an_error_with_its_reason(case, path):
    with pytest.raises(EvidenceError) as caught:
        _score({"genetic": {"case_level": [case]}})
    assert caught.value.path == path
    assert str(caught.value) == (
        f"{path}: missing; the variant type sets the SOP points range, use one of: "
        "predicted_null, other"
    )


@pytest.mark.parametrize(
    ("case", "points"),
    [
        ({"variant_type": "predicted_null", "points": 0}, 0),
        ({"variant_type": "predicted_null", "points": 3}, 3),
        ({"variant_type": "other", "points": 0}, 0),
        ({"variant_type": "other", "points": 1.5}, 1.5),
        ({"variant_type": "other", "de_novo": True, "points": 1.5}, 1.5),
    ],
)
def test_points_at_the_edges_of_each_variant_types_range_are_accepted(case, points):
    assert _score({"genetic": {"case_level": [case]}}).genetic == points


@pytest.mark.parametrize(
    ("case", "maximum"),
    [
        ({"variant_type": "predicted_null", "points": 3.01}, "3 for variant type 'predicted_null'"),
        ({"variant_type": "other", "points": 1.51}, "1.5 for variant type 'other'"),
        ({"variant_type": "other", "de_novo": True, "points": 1.6}, "1.5 for variant type 'other'"),
    ],
)
def test_points_beyond_the_range_of_the_variant_type_are_an_error_even_when_de_novo(case, maximum):
    with pytest.raises(EvidenceError, match=f"above the SOP v11 maximum of {maximum}"):
        _score({"genetic": {"case_level": [case]}})


@pytest.mark.parametrize(("variant_type", "default"), [("predicted_null", 1.5), ("other", 0.1)])
def test_a_proband_without_points_gets_the_sop_default_of_its_type_and_is_listed(
    variant_type, default
):
    cases = [{"proband": "P1", "variant_type": variant_type}, *_cases(1)]
    result = _score({"genetic": {"case_level": cases}})
    assert result.genetic == default + 1
    assert result.defaulted_probands == [
        {
            "path": "genetic.case_level[0]",
            "proband": "P1",
            "variant_type": variant_type,
            "points": default,
        }
    ]


def test_a_proband_scored_zero_has_entered_points_and_is_not_defaulted():
    result = _score({"genetic": {"case_level": _cases(0)}})
    assert (result.genetic, result.defaulted_probands) == (0, [])


def _biallelic(*alleles: dict) -> dict:
    """Return evidence with one biallelic proband of the given alleles."""
    return {
        "genetic": {"case_level": [{"proband": "R1", "biallelic": True, "variants": list(alleles)}]}
    }


@pytest.mark.parametrize(
    ("alleles", "points"),
    [
        (({"variant_type": "other", "points": 1.5}, {"variant_type": "other", "points": 1.4}), 2.9),
        (
            (
                {"variant_type": "predicted_null", "points": 3},
                {"variant_type": "other", "points": 0},
            ),
            3,
        ),
        (
            (
                {"variant_type": "predicted_null", "points": 2},
                {"variant_type": "other", "points": 1.5},
            ),
            3,
        ),
    ],
)
def test_biallelic_alleles_are_summed_and_capped_at_three_per_proband(alleles, points):
    assert _score(_biallelic(*alleles)).genetic == points


def test_each_biallelic_allele_is_checked_against_its_own_types_range_before_the_sum():
    alleles = (
        {"variant_type": "predicted_null", "points": 0},
        {"variant_type": "other", "points": 1.6},
    )
    with pytest.raises(EvidenceError) as caught:
        _score(_biallelic(*alleles))  # 1.6 is within the 3-point proband cap, not the 1.5 range
    assert str(caught.value) == (
        "genetic.case_level[0].variants[1].points: 1.6 is above the SOP v11 maximum of 1.5 "
        "for variant type 'other'"
    )


def test_biallelic_alleles_without_points_get_their_own_types_default_and_are_listed():
    result = _score(_biallelic({"variant_type": "predicted_null"}, {"variant_type": "other"}))
    assert result.genetic == 1.6
    assert [entry["path"] for entry in result.defaulted_probands] == [
        "genetic.case_level[0].variants[0]",
        "genetic.case_level[0].variants[1]",
    ]


@pytest.mark.parametrize(("variant_type", "default"), [("predicted_null", 3), ("other", 0.2)])
def test_a_single_entry_biallelic_proband_counts_two_alleles_of_its_type(variant_type, default):
    case = {"biallelic": True, "variant_type": variant_type}
    assert _score({"genetic": {"case_level": [case]}}).genetic == default
    with pytest.raises(EvidenceError, match="maximum of 3 for variant type"):
        _score({"genetic": {"case_level": [case | {"points": 3.01}]}})


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (
            {"variants": [{"variant_type": "other"}]},
            "genetic.case_level[0].variants: lists 1 alleles; list both",
        ),
        (
            {"biallelic": False, "variants": [{"variant_type": "other"}] * 2},
            "genetic.case_level[0].variants: lists alleles but biallelic is false",
        ),
        (
            {"points": 3, "variants": [{"variant_type": "other"}] * 2},
            "genetic.case_level[0].points: not allowed next to variants",
        ),
        ({"variant_type": "other", "de_novo": "yes"}, "genetic.case_level[0].de_novo: 'yes' is"),
    ],
)
def test_malformed_probands_are_errors_that_say_how_to_fix_them(case, message):
    with pytest.raises(EvidenceError) as caught:
        _score({"genetic": {"case_level": [case]}})
    assert str(caught.value).startswith(message)


# --- contradictory evidence (SOP Figure 9: "no convincing contradictory evidence") ---------


def test_contradictory_evidence_keeps_a_definitive_class_and_asks_for_expert_review():
    evidence = _total(12) | {
        "publications": REPLICATED_PUBLICATIONS,
        "contradictory_evidence": True,
        "contradictory_description": "PMID 9: no loss of function in 3 cohorts",
    }
    result = _score(evidence)
    assert (result.classification, result.needs_expert_review) == ("Definitive", True)
    assert result.review_reason.startswith(
        "contradictory evidence is flagged (PMID 9: no loss of function in 3 cohorts); "
        "SOP v11 classes Limited to Definitive require no convincing contradictory evidence"
    )


@pytest.mark.parametrize("flag", [False, None])
def test_without_contradictory_evidence_no_expert_review_is_asked(flag):
    result = _score(_total(12) | {"contradictory_evidence": flag})
    assert (result.needs_expert_review, result.review_reason) == (False, "")


def test_an_expert_assertion_is_the_review_of_contradictory_evidence():
    evidence = _total(12) | {"contradictory_evidence": True, "expert_assertion": "disputed"}
    result = _score(evidence)
    assert (result.classification, result.needs_expert_review) == ("Disputed", False)


# --- rounding and output ------------------------------------------------------------------


def test_scores_are_rounded_so_tenths_add_up_exactly():
    result = _score({"genetic": {"case_level": _cases(0.1, 0.2, variant_type="other")}})
    assert result.genetic == 0.3  # 0.1 + 0.2 is 0.30000000000000004 in binary floating point


def test_as_dict_is_json_serialisable_with_every_score():
    result = _score(_total(8) | {"publications": REPLICATED_PUBLICATIONS})
    data = json.loads(json.dumps(result.as_dict()))
    assert data["classification"] == "Moderate"
    assert (data["animal_model_only"], data["needs_expert_review"]) == (False, False)
    assert data["defaulted_probands"] == []
    assert data["total"] == 8
    assert data["replicated"] is True
    assert set(data["breakdown"]) == {
        "case_level",
        "segregation",
        "case_control",
        "function",
        "functional_alteration",
        "models_rescue",
    }


# --- errors a curator can act on -----------------------------------------------------------


@pytest.mark.parametrize(
    ("evidence", "message"),
    [
        (
            {"genetic": {"case_level": _cases("1.5")}},
            "genetic.case_level[0].points: '1.5' is not a number",
        ),
        ({"genetic": {"case_level": _cases(True)}}, "genetic.case_level[0].points: True is"),
        ({"genetic": {"case_level": _cases(float("nan"))}}, "is not a number"),
        (
            {"genetic": {"case_level": _cases(1, -0.5)}},
            "genetic.case_level[1].points: -0.5 is negative",
        ),
        ({"experimental": {"models": [{}]}}, "experimental.models[0].points: missing"),
        (
            {"genetic": {"case_level": _cases(2, variant_type="other")}},
            "genetic.case_level[0].points: 2 is above the SOP v11 maximum of 1.5",
        ),
        (
            {"genetic": {"case_control": [{"points": 7}]}},
            "genetic.case_control[0].points: 7 is above the SOP v11 maximum of 6",
        ),
        (
            {
                "experimental": {
                    "functional_alteration": [{"kind": "non_patient_cells", "points": 2}]
                }
            },
            "maximum of 1",
        ),
        (
            {"genetic": {"segregation": {"summed_lod": 3, "approach": "linkage"}}},
            "genetic.segregation.approach: 'linkage' is not known; use one of: "
            "candidate_gene, exome_genome",
        ),
        (
            {"genetic": {"segregation": {"summed_lod": 3}}},
            "genetic.segregation.approach: required when summed_lod is given",
        ),
        ({"genetic": {"segregation": {"summed_lod": "3"}}}, "summed_lod: '3' is not a number"),
        (
            {"genetic": {"segregation": {"summed_lod": -1, "approach": "exome_genome"}}},
            "summed_lod: -1 is negative",
        ),
        ({"genetic": {"case_level": [{"variant_type": "missense", "points": 1}]}}, "'missense'"),
        ({"experimental": {"function": [{"kind": "binding", "points": 1}]}}, "kind: 'binding'"),
        ({"genetic": {"case_level": {"points": 1}}}, "genetic.case_level: expected a list"),
        ({"genetic": {"case_level": ["1.5"]}}, "genetic.case_level[0]: expected an object"),
        ({"experimental": [1]}, "experimental: expected an object"),
        ({"publications": [{"pmid": "1"}]}, "publications[0]: needs 'year'"),
        ({"publications": [{"year": "2015"}]}, "publications[0].year: '2015' is not a year"),
        ({"publications": [{"date": "2015-02-30"}]}, "publications[0].date: '2015-02-30' is not"),
        ({"expert_assertion": "Disputed"}, "expert_assertion: 'Disputed' is not an expert"),
        ({"contradictory_evidence": "yes"}, "contradictory_evidence: 'yes' is not true or false"),
    ],
)
def test_unscorable_evidence_raises_an_error_naming_the_field(evidence, message):
    with pytest.raises(EvidenceError) as caught:
        _score(evidence)
    assert message in str(caught.value)


def test_evidence_error_is_a_value_error_that_carries_the_path():
    with pytest.raises(ValueError) as caught:
        _score({"genetic": {"case_control": [{"points": -1}]}})
    assert caught.value.path == "genetic.case_control[0].points"


def test_evidence_that_is_not_an_object_is_rejected():
    with pytest.raises(EvidenceError, match="evidence: expected an object"):
        _score([])


# --- scoring runs -------------------------------------------------------------------------

scoring_run_db = pytest.mark.django_db(transaction=True)


def _scored_run(scope, **kwargs):
    """Score a scope as one tracked run; return the stored run."""
    with track_operation("calculate_scores") as tracker:
        curations_score(scope=scope, tracker=tracker, **kwargs)
    flush()
    return OperationProgress.objects.get(pk=tracker.id)


@scoring_run_db
def test_a_scoring_run_stores_the_review_flag_and_the_scope_summary_counts_it():
    scope = ScopeFactory()
    flagged = _total(12) | {"contradictory_evidence": True, "contradictory_description": "x"}
    review = CurationFactory(scope=scope, evidence=flagged)
    CurationFactory(scope=scope, evidence=_total(12))
    run = _scored_run(scope)
    review.refresh_from_db()
    assert (review.classification, review.score_breakdown["needs_expert_review"]) == (
        "Strong",
        True,
    )
    assert review.score_breakdown["review_reason"].startswith("contradictory evidence is flagged")
    assert run.metadata["needs_expert_review"] == 1
    summary = scope_summary(scope, validation={"invalid": 0}, classes={}, imported=0)
    assert summary["needs_expert_review"] == 1


@scoring_run_db
def test_a_scoring_run_stores_which_probands_were_given_the_sop_default():
    case = {"proband": "P1", "variant_type": "other"}
    curation = CurationFactory(evidence={"genetic": {"case_level": [case]}})
    _scored_run(curation.scope)
    curation.refresh_from_db()
    assert curation.genetic_score == 0.1
    assert curation.score_breakdown["defaulted_probands"] == [
        {"path": "genetic.case_level[0]", "proband": "P1", "variant_type": "other", "points": 0.1}
    ]


@scoring_run_db
@pytest.mark.parametrize(("as_of", "expected"), [("2010-12-30", "Strong"), (None, "Definitive")])
def test_a_scoring_run_as_of_a_past_date_classifies_as_it_stood_then(as_of, expected):
    curation = CurationFactory(evidence=_total(12) | {"publications": REPLICATED_PUBLICATIONS})
    day = None if as_of is None else date.fromisoformat(as_of)
    run = _scored_run(curation.scope, as_of=day)
    curation.refresh_from_db()
    assert curation.classification == expected
    assert run.metadata["as_of"] == (as_of or timezone.localdate().isoformat())


@scoring_run_db
def test_a_scoring_run_keeps_200_unscorable_curations_and_counts_them_all():
    scope = ScopeFactory()
    untyped = {"genetic": {"case_level": [{"points": 1}]}}
    CurationFactory.create_batch(MAX_FAILURES_KEPT + 1, scope=scope, evidence=untyped)
    run = _scored_run(scope)
    assert run.items_failed == MAX_FAILURES_KEPT + 1
    assert run.metadata["row_errors_total"] == MAX_FAILURES_KEPT + 1
    assert len(run.metadata["row_errors"]) == MAX_FAILURES_KEPT
    assert run.metadata["row_errors"][0]["reason"].startswith(
        "genetic.case_level[0].variant_type: missing"
    )


@scoring_run_db
def test_calculate_scores_as_of_a_past_date_records_it_with_the_run():
    curation = CurationFactory(evidence=_total(12) | {"publications": REPLICATED_PUBLICATIONS})
    call_command("calculate_scores", "--as-of", "2010-12-30", "--no-bar", stdout=io.StringIO())
    curation.refresh_from_db()
    assert curation.classification == "Strong"
    run = OperationProgress.objects.get(operation_name="calculate_scores")
    assert run.metadata["parameters"] == {"as_of": "2010-12-30"}


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        ("2023-02-30", "'2023-02-30' is not a date; write YYYY-MM-DD"),
        ("30.06.2023", "'30.06.2023' is not a date; write YYYY-MM-DD"),
        ("2999-01-01", "2999-01-01 is in the future; give today or an earlier date"),
    ],
)
def test_calculate_scores_refuses_an_as_of_that_is_not_a_past_date(as_of, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("calculate_scores", "--as-of", as_of)


@scoring_run_db
def test_the_queued_scoring_task_takes_as_of_as_an_iso_date():
    curation = CurationFactory(evidence=_total(12) | {"publications": REPLICATED_PUBLICATIONS})
    run = OperationProgress.objects.create(operation_name="calculate_scores", status=Status.QUEUED)
    calculate_scores_task.call(run.pk, as_of="2010-12-30")
    curation.refresh_from_db()
    assert curation.classification == "Strong"
