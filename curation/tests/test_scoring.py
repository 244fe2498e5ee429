"""Tests for ClinGen SOP v11 scoring; expected values come from the SOP figures, not the code."""

from __future__ import annotations

import json
from datetime import date

import pytest

from curation.scoring import (
    Classification,
    EvidenceError,
    classify,
    is_replicated,
    score_evidence,
    uncapped_points,
)

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
    """Return evidence whose only points are one biallelic case per 3 points (plus a remainder)."""
    full, remainder = divmod(points, 3)
    items = [3.0] * int(full) + ([remainder] if remainder else [])
    return {"genetic": {"case_level": [{"biallelic": True, "points": p} for p in items]}}


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


def test_contradictory_flag_alone_does_not_change_the_computed_classification():
    evidence = _total(12) | {"contradictory_evidence": True, "contradictory_description": "x"}
    assert _score(evidence).classification == "Strong"


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
    assert classify(7, replicated=False, expert_assertion=assertion) == "Moderate"


# --- rounding and output ------------------------------------------------------------------


def test_scores_are_rounded_so_tenths_add_up_exactly():
    result = _score({"genetic": {"case_level": _cases(0.1, 0.2, variant_type="other")}})
    assert result.genetic == 0.3  # 0.1 + 0.2 is 0.30000000000000004 in binary floating point


def test_as_dict_is_json_serialisable_with_every_score():
    result = _score(_total(8) | {"publications": REPLICATED_PUBLICATIONS})
    data = json.loads(json.dumps(result.as_dict()))
    assert data["classification"] == "Moderate"
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
            {"genetic": {"case_level": [{"points": "1.5"}]}},
            "genetic.case_level[0].points: '1.5' is not a number",
        ),
        ({"genetic": {"case_level": [{"points": True}]}}, "genetic.case_level[0].points: True is"),
        ({"genetic": {"case_level": [{"points": float("nan")}]}}, "is not a number"),
        (
            {"genetic": {"case_level": [{"points": 1}, {"points": -0.5}]}},
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
