"""Tests for evidence validation against schema definitions, and for the definitions themselves."""

from __future__ import annotations

import copy
import json
from datetime import date

import pytest

from curation.clingen_schema import CLINGEN_SCHEMA
from curation.schema_validation import (
    ValidationReport,
    validate_evidence,
    validate_schema_definition,
)
from curation.scoring import score_evidence

STATES = ["draft", "submitted"]


def _schema(*fields: dict, rules: list[dict] | None = None) -> dict:
    """Return a minimal valid schema with the given fields and rules."""
    return {
        "name": "test",
        "version": "1",
        "fields": list(fields),
        "rules": rules or [],
        "workflow_states": list(STATES),
    }


def _errors(evidence: dict, *fields: dict, rules: list[dict] | None = None) -> list[str]:
    """Return validation errors of evidence against a schema of the given fields."""
    return validate_evidence(evidence, _schema(*fields, rules=rules)).errors


def _realistic_evidence() -> dict:
    """Return a complete autosomal dominant curation as a curator would enter it."""
    return {
        "hgnc_id": "HGNC:1100",
        "mondo_id": "MONDO:0007254",
        "inheritance": "autosomal_dominant",
        "genetic": {
            "case_level": [
                {
                    "pmid": "20301001",
                    "proband": "Lee P1",
                    "variant_type": "predicted_null",
                    "de_novo": True,
                    "points": 2,
                    "notes": "de novo nonsense, parents confirmed",
                },
                {
                    "pmid": "20301001",
                    "proband": "Lee P2",
                    "variant_type": "predicted_null",
                    "de_novo": True,
                    "points": 2,
                },
                {
                    "pmid": "25602002",
                    "proband": "Ng P1",
                    "variant_type": "predicted_null",
                    "points": 1.5,
                },
                {
                    "pmid": "25602002",
                    "proband": "Ng P2",
                    "variant_type": "other",
                    "points": 0.5,
                    "notes": "missense with enzyme assay (+0.4)",
                },
                {
                    "pmid": "31903003",
                    "proband": "Roy P4",
                    "variant_type": "other",
                    "biallelic": False,
                    "points": 1,
                },
                {
                    "pmid": "31903003",
                    "proband": "Roy P7",
                    "variant_type": "predicted_null",
                    "points": 1,
                },
            ],
            "segregation": {"summed_lod": 3.3, "approach": "exome_genome"},
            "case_control": [
                {"pmid": "31903003", "study_type": "aggregate_variant", "points": 2},
            ],
        },
        "experimental": {
            "function": [
                {"pmid": "11004004", "kind": "expression", "points": 0.5},
                {"pmid": "11004005", "kind": "biochemical", "points": 0.5},
            ],
            "functional_alteration": [
                {"pmid": "27005006", "kind": "patient_cells", "points": 1},
            ],
            "models": [
                {"pmid": "29006007", "kind": "non_human_model_organism", "points": 2},
            ],
        },
        "publications": [
            {"pmid": "20301001", "year": 2010},
            {"pmid": "25602002", "year": 2015},
            {"pmid": "31903003", "date": "2019-09-01"},
        ],
        "contradictory_evidence": False,
        "contradictory_description": "",
        "expert_assertion": None,
        "evidence_summary": "Six probands across three publications ...",
    }


# --- the shipped ClinGen schema -----------------------------------------------------------


def test_clingen_schema_is_a_valid_schema_definition():
    report = validate_schema_definition(CLINGEN_SCHEMA)
    assert (report.errors, report.warnings) == ([], [])


def test_clingen_schema_is_json_serialisable():
    assert json.loads(json.dumps(CLINGEN_SCHEMA))["name"] == CLINGEN_SCHEMA["name"]


def test_realistic_complete_evidence_validates_cleanly_and_scores_definitive():
    evidence = _realistic_evidence()
    report = validate_evidence(evidence, CLINGEN_SCHEMA)
    assert (report.errors, report.warnings) == ([], [])
    result = score_evidence(evidence, as_of=date(2024, 6, 1))
    # By hand from the SOP: case-level 2+2+1.5+0.5+1+1 = 8, segregation LOD 3.3 by exome = 2,
    # case-control 2 -> genetic 12; function 1 + functional alteration 1 + model 2 -> 4.
    # Total 16 >= 12, 3 publications and 2010 is more than 3 years ago -> Definitive.
    assert (result.genetic, result.experimental, result.total) == (12, 4, 16)
    assert result.classification == "Definitive"


def test_clingen_schema_reports_a_proband_without_a_variant_type_with_the_reason():
    evidence = _realistic_evidence()
    del evidence["genetic"]["case_level"][2]["variant_type"]
    assert validate_evidence(evidence, CLINGEN_SCHEMA).errors == [
        "genetic.case_level[2].variant_type: missing; the variant type sets the SOP points "
        "range, use one of: predicted_null, other"
    ]


def test_clingen_schema_accepts_biallelic_alleles_and_probands_left_at_the_sop_default():
    evidence = _realistic_evidence()
    del evidence["genetic"]["case_level"][2]["points"]
    evidence["genetic"]["case_level"][3] = {
        "pmid": "25602002",
        "proband": "Ng P2",
        "biallelic": True,
        "variants": [
            {"variant_type": "predicted_null", "hgvs": "c.100C>T", "points": 0.4},
            {"variant_type": "other", "notes": "missense, no functional data"},
        ],
    }
    report = validate_evidence(evidence, CLINGEN_SCHEMA)
    assert (report.errors, report.warnings) == ([], [])


def test_clingen_schema_checks_each_biallelic_allele_against_its_own_type():
    evidence = _realistic_evidence()
    evidence["genetic"]["case_level"][3] = {
        "pmid": "25602002",
        "biallelic": True,
        "variants": [{"variant_type": "predicted_null"}, {"variant_type": "other", "points": 2}],
    }
    assert validate_evidence(evidence, CLINGEN_SCHEMA).errors == [
        "genetic.case_level[3].variants[1].points: 2 is above the SOP v11 maximum of 1.5 for "
        "variant type 'other'"
    ]


def test_clingen_schema_requires_disease_and_inheritance():
    errors = validate_evidence({}, CLINGEN_SCHEMA).errors
    assert errors == ["mondo_id: is required but missing", "inheritance: is required but missing"]


def test_clingen_schema_rejects_a_malformed_mondo_id_with_an_example():
    evidence = _realistic_evidence() | {"mondo_id": "MONDO:12"}
    errors = validate_evidence(evidence, CLINGEN_SCHEMA).errors
    assert errors == ["mondo_id: 'MONDO:12' does not have the expected format (e.g. MONDO:0007739)"]


def test_clingen_schema_reports_the_item_with_a_bad_publication_pmid():
    evidence = _realistic_evidence()
    evidence["publications"][2]["pmid"] = "abc"
    errors = validate_evidence(evidence, CLINGEN_SCHEMA).errors
    assert "publications[2].pmid: 'abc' is not a PubMed id (1-10 digits)" in errors


def test_clingen_schema_reports_sop_item_maxima_from_scoring():
    evidence = _realistic_evidence()
    evidence["experimental"]["functional_alteration"][0] = {
        "pmid": "1",
        "kind": "non_patient_cells",
        "points": 1.5,  # SOP range for non-patient cells is 0-1
    }
    errors = validate_evidence(evidence, CLINGEN_SCHEMA).errors
    assert errors == [
        "experimental.functional_alteration[0].points: 1.5 is above the SOP v11 maximum of 1 "
        "for this item"
    ]


# --- field types --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "good", "bad", "message"),
    [
        ({"type": "text"}, "free text", 12, "12 is not text"),
        ({"type": "text", "max_length": 3}, "abc", "abcd", "is 4 characters long"),
        ({"type": "text", "pattern": r"[A-Z]+"}, "ABC", "abc", "'abc' does not have"),
        ({"type": "number"}, 2.5, "2.5", "'2.5' is not a number"),
        ({"type": "number"}, 0, True, "True is not a number"),
        ({"type": "number", "min": 0, "max": 10}, 10, -1, "-1 is below the minimum of 0"),
        ({"type": "number", "min": 0, "max": 10}, 0, 10.5, "10.5 is above the maximum of 10"),
        ({"type": "boolean"}, False, "false", "'false' is not true or false"),
        ({"type": "date"}, "2024-02-29", "2023-02-29", "'2023-02-29' is not a real calendar date"),
        ({"type": "date"}, "2024-01-31", "31/01/2024", "'31/01/2024' is not a date (yyyy-mm-dd)"),
        ({"type": "date"}, "2024-01-31", "20240131", "is not a date (yyyy-mm-dd)"),
        ({"type": "select", "options": ["a", "b"]}, "b", "c", "'c' is not one of: a, b"),
        ({"type": "multiselect", "options": ["a", "b"]}, ["a", "b"], ["a", "z"], "'z' not among"),
        ({"type": "multiselect", "options": ["a"]}, [], "a", "'a' is not a list of choices"),
        ({"type": "pmid"}, "12345678", "PMID:1", "'PMID:1' is not a PubMed id (1-10 digits)"),
        ({"type": "pmid"}, 1234567890, "12345678901", "is not a PubMed id (1-10 digits)"),
        ({"type": "pmid"}, "1", 12345678901, "12345678901 is not a PubMed id"),
        ({"type": "pmid"}, 42, -42, "-42 is not a PubMed id"),
        ({"type": "hgnc_id"}, "HGNC:1100", "1100", "'1100' is not an HGNC id"),
        ({"type": "hgnc_id"}, "HGNC:5", "hgnc:5", "'hgnc:5' is not an HGNC id"),
        ({"type": "score"}, 0, -0.5, "-0.5 is negative; points start at 0"),
        ({"type": "score", "max": 3}, 3, 3.5, "3.5 is above the maximum of 3"),
        ({"type": "score"}, 1.5, "1.5", "'1.5' is not a number"),
        ({"type": "list", "min_items": 1}, [{}], [], "has 0 item(s); add at least 1"),
        ({"type": "list"}, [], {"a": 1}, "expected a list, got an object"),
    ],
)
def test_each_field_type_accepts_good_values_and_names_the_problem_with_bad_ones(
    definition, good, bad, message
):
    field = {"name": "x"} | definition
    assert _errors({"x": good}, field) == []
    errors = _errors({"x": bad}, field)
    assert len(errors) == 1
    assert errors[0].startswith("x: ")
    assert message in errors[0]


def test_required_field_missing_or_null_is_an_error_and_optional_is_not():
    required = {"name": "x", "type": "text", "required": True}
    optional = {"name": "y", "type": "text"}
    assert _errors({}, required, optional) == ["x: is required but missing"]
    assert _errors({"x": None}, required) == ["x: is required but missing"]


def test_required_nested_field_names_its_full_path_when_its_parent_is_absent():
    field = {"name": "genetic.segregation.summed_lod", "type": "number", "required": True}
    assert _errors({}, field) == ["genetic.segregation.summed_lod: is required but missing"]


def test_list_item_paths_check_every_item_and_name_its_index():
    field = {"name": "publications[].pmid", "type": "pmid", "required": True}
    evidence = {"publications": [{"pmid": "1"}, {"pmid": "2"}, {"pmid": "abc"}, {}]}
    assert _errors(evidence, field) == [
        "publications[2].pmid: 'abc' is not a PubMed id (1-10 digits)",
        "publications[3].pmid: is required but missing",
    ]


def test_an_absent_list_has_no_items_to_require_unless_the_list_is_required():
    item = {"name": "publications[].pmid", "type": "pmid", "required": True}
    listing = {"name": "publications", "type": "list", "required": True}
    assert _errors({}, item) == []
    assert _errors({}, item, listing) == ["publications: is required but missing"]


def test_an_item_path_inside_an_absent_object_requires_nothing():
    field = {"name": "genetic.case_level[].pmid", "type": "pmid", "required": True}
    assert _errors({}, field) == []
    assert _errors({"genetic": {}}, field) == []


def test_nested_list_paths_reach_items_of_items():
    field = {"name": "families[].members[].age", "type": "number"}
    evidence = {"families": [{"members": [{"age": 3}]}, {"members": [{"age": "x"}]}]}
    assert _errors(evidence, field) == ["families[1].members[0].age: 'x' is not a number"]


@pytest.mark.parametrize(
    ("evidence", "message"),
    [
        ({"publications": {"pmid": "1"}}, "publications: expected a list, got an object"),
        ({"publications": ["123"]}, "publications[0]: expected an object with named fields"),
        ({"genetic": [1]}, "genetic: expected an object with named fields, got a list"),
    ],
)
def test_wrong_container_types_are_reported_once(evidence, message):
    fields = (
        {"name": "publications[].pmid", "type": "pmid"},
        {"name": "publications[].year", "type": "number"},
        {"name": "genetic.segregation.summed_lod", "type": "number"},
        {"name": "genetic.segregation.approach", "type": "text"},
    )
    errors = _errors(evidence, *fields)
    assert len(errors) == 1
    assert errors[0].startswith(message)


def test_evidence_that_is_not_an_object_is_an_error():
    assert not validate_evidence([], _schema({"name": "x", "type": "text"})).valid


# --- unknown keys -------------------------------------------------------------------------


def test_keys_not_in_the_schema_are_warnings_with_their_path():
    fields = (
        {"name": "genetic.case_level[].points", "type": "score"},
        {"name": "x", "type": "text"},
    )
    evidence = {"x": "a", "extra": 1, "genetic": {"case_level": [{"points": 1, "note": "?"}]}}
    report = validate_evidence(evidence, _schema(*fields))
    assert report.valid
    assert [warning.split(":")[0] for warning in report.warnings] == [
        "extra",
        "genetic.case_level[0].note",
    ]
    assert "not defined in schema 'test'" in report.warnings[0]


def test_values_of_declared_leaf_fields_are_not_reported_as_unknown_keys():
    field = {"name": "tags", "type": "multiselect", "options": ["a"]}
    assert validate_evidence({"tags": ["a"]}, _schema(field)).warnings == []


# --- business rules -----------------------------------------------------------------------

GENETIC_LIMIT = [{"rule": "max_genetic_points", "limit": 12}]
EXPERIMENTAL_LIMIT = [{"rule": "max_experimental_points", "limit": 6}]


def _null_cases(total_points: float) -> dict:
    """Return genetic evidence of predicted-null cases at 2 points each summing to total_points."""
    count, remainder = divmod(total_points, 2)
    points = [2] * int(count) + ([remainder] if remainder else [])
    cases = [{"variant_type": "predicted_null", "points": p} for p in points]
    return {"genetic": {"case_level": cases}}


@pytest.mark.parametrize(("points", "valid"), [(12, True), (12.5, False), (14, False)])
def test_genetic_points_above_twelve_are_an_error_not_silently_capped(points, valid):
    errors = _errors(_null_cases(points), rules=GENETIC_LIMIT)
    assert (errors == []) is valid
    if not valid:
        assert errors == [
            f"genetic: {points:g} genetic points entered but at most 12 are allowed; "
            "remove or down-score evidence until the total is 12 or less"
        ]


def test_genetic_limit_counts_segregation_and_case_control_too():
    evidence = _null_cases(8)
    evidence["genetic"]["segregation"] = {"summed_lod": 5, "approach": "candidate_gene"}  # 1.5
    evidence["genetic"]["case_control"] = [{"points": 3}]
    errors = _errors(evidence, rules=GENETIC_LIMIT)
    assert len(errors) == 1
    assert errors[0].startswith("genetic: 12.5 genetic points entered but at most 12")


@pytest.mark.parametrize(("points", "valid"), [(6, True), (6.5, False)])
def test_experimental_points_above_six_are_an_error(points, valid):
    experimental = {
        "models": [{"points": 4}],
        "function": [{"points": 2}],
        "functional_alteration": [{"points": points - 6}],
    }
    errors = _errors({"experimental": experimental}, rules=EXPERIMENTAL_LIMIT)
    assert (errors == []) is valid
    if not valid:
        assert "experimental: 6.5 experimental points entered but at most 6" in errors[0]


def test_limit_rules_use_the_limit_in_the_schema():
    rules = [{"rule": "max_genetic_points", "limit": 4}]
    assert _errors(_null_cases(4), rules=rules) == []
    assert len(_errors(_null_cases(4.5), rules=rules)) == 1


def test_limits_are_not_checked_when_the_schema_has_no_limit_rules():
    assert _errors(_null_cases(14)) == []


@pytest.mark.parametrize(
    ("evidence", "valid"),
    [
        ({"contradictory_evidence": True}, False),
        ({"contradictory_evidence": True, "contradictory_description": "   "}, False),
        ({"contradictory_evidence": True, "contradictory_description": "PMID 1: no LOF"}, True),
        ({"contradictory_evidence": False}, True),
        ({}, True),
    ],
)
def test_contradictory_evidence_needs_a_non_empty_description(evidence, valid):
    errors = _errors(evidence, rules=[{"rule": "contradictory_needs_description"}])
    assert (errors == []) is valid
    if not valid:
        assert errors[0].startswith("contradictory_description: required when contradictory")


def test_evidence_scoring_cannot_read_is_an_error_even_without_a_field_for_it():
    evidence = {"genetic": {"segregation": {"summed_lod": 3, "approach": "linkage"}}}
    errors = _errors(evidence, rules=GENETIC_LIMIT)
    assert errors == [
        "genetic.segregation.approach: 'linkage' is not known; use one of: "
        "candidate_gene, exome_genome"
    ]


def test_a_problem_found_by_a_field_check_is_not_repeated_by_scoring():
    field = {"name": "genetic.case_level[].points", "type": "number"}
    evidence = {"genetic": {"case_level": [{"variant_type": "other", "points": "two"}]}}
    errors = _errors(evidence, field, rules=GENETIC_LIMIT)
    assert errors == ["genetic.case_level[0].points: 'two' is not a number"]


def test_unknown_rules_in_an_unchecked_schema_are_skipped_with_a_warning():
    report = validate_evidence({}, _schema(rules=[{"rule": "max_points"}]))
    assert report.valid
    assert report.warnings == ["schema rule 'max_points' is unknown and was not checked"]


# --- report -------------------------------------------------------------------------------


def test_report_is_valid_only_without_errors_and_serialises():
    assert ValidationReport(warnings=["w"]).valid
    report = ValidationReport(errors=["e"])
    assert not report.valid
    assert json.loads(json.dumps(report.as_dict())) == {
        "valid": False,
        "errors": ["e"],
        "warnings": [],
    }


# --- schema definitions -------------------------------------------------------------------


def _definition_errors(**changes) -> list[str]:
    """Return the errors of a valid minimal schema after applying changes."""
    schema = _schema({"name": "x", "type": "text"}) | changes
    return validate_schema_definition(schema).errors


def test_the_minimal_schema_used_here_is_itself_valid():
    assert _definition_errors() == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"fields": []}, "fields: required; define at least one field"),
        ({"fields": None}, "fields: required"),
        ({"fields": ["x"]}, "fields[0]: expected an object with 'name' and 'type'"),
        ({"fields": [{"type": "text"}]}, "fields[0]: 'name' is required"),
        ({"fields": [{"name": "a..b", "type": "text"}]}, "fields[0] (a..b): 'name' must be a"),
        ({"fields": [{"name": "a[]x", "type": "text"}]}, "'name' must be a dotted path"),
        ({"fields": [{"name": "x", "type": "colour"}]}, "fields[0] (x): type 'colour' is not one"),
        ({"fields": [{"name": "x"}]}, "fields[0] (x): type None is not one of"),
        ({"fields": [{"name": "x", "type": "select"}]}, "select fields need a non-empty 'options'"),
        (
            {"fields": [{"name": "x", "type": "multiselect", "options": []}]},
            "select fields need a non-empty 'options' list",
        ),
        (
            {"fields": [{"name": "x", "type": "select", "options": ["a", "a"]}]},
            "'options' contains duplicates",
        ),
        (
            {"fields": [{"name": "x", "type": "text"}, {"name": "x", "type": "number"}]},
            "fields[1] (x): duplicate field name",
        ),
        ({"fields": [{"name": "x", "type": "text", "required": "yes"}]}, "'required' must be"),
        ({"fields": [{"name": "x", "type": "number", "min": 5, "max": 1}]}, "'min' (5) is greater"),
        ({"fields": [{"name": "x", "type": "score", "max": "3"}]}, "'max' must be a number"),
        ({"fields": [{"name": "x", "type": "text", "pattern": "("}]}, "'pattern' is not a valid"),
        ({"fields": [{"name": "x", "type": "text", "max_length": 0}]}, "'max_length' must be"),
        ({"fields": [{"name": "x", "type": "list", "min_items": -1}]}, "'min_items' must be"),
        ({"workflow_states": ["draft"]}, "workflow_states: must include 'submitted'"),
        ({"workflow_states": ["submitted"]}, "workflow_states: must include 'draft'"),
        ({"workflow_states": None}, "workflow_states: expected a list of state names"),
        ({"workflow_states": [*STATES, "draft"]}, "workflow_states: contains duplicates"),
        ({"rules": [{"rule": "max_points"}]}, "rules[0]: unknown rule 'max_points'; use one of"),
        ({"rules": ["contradictory_needs_description"]}, "rules[0]: unknown rule None"),
        ({"rules": {"rule": "x"}}, "rules: expected a list"),
        ({"rules": [{"rule": "max_genetic_points"}]}, "'limit' must be a number of 0 or more"),
        ({"rules": [{"rule": "max_experimental_points", "limit": -1}]}, "'limit' must be"),
        ({"scoring": {"method": "acmg"}}, "scoring.method: 'acmg' is unknown"),
        ({"scoring": "clingen_sop_v11"}, "scoring.method: None is unknown"),
        ({"name": ""}, "name: required"),
        ({"version": None}, "version: required"),
    ],
)
def test_malformed_schema_definitions_are_errors(changes, message):
    errors = _definition_errors(**changes)
    assert any(message in error for error in errors), errors


def test_a_schema_that_is_not_an_object_is_an_error():
    assert validate_schema_definition([]).errors == ["schema: expected an object with named fields"]


def test_limits_above_the_sop_maximum_are_warned_about_because_scoring_still_caps():
    report = validate_schema_definition(
        _schema({"name": "x", "type": "text"}, rules=[{"rule": "max_genetic_points", "limit": 14}])
    )
    assert report.valid
    assert report.warnings == [
        "rules[0] (max_genetic_points): limit 14 is above the SOP v11 maximum of 12; "
        "scoring still caps at 12"
    ]


def test_unknown_keys_in_a_schema_definition_are_warnings():
    schema = _schema({"name": "x", "type": "text", "colour": "red"}) | {"owner": "me"}
    report = validate_schema_definition(schema)
    assert report.valid
    assert report.warnings == [
        "owner: not a schema key; it is ignored",
        "fields[0] (x): unknown key 'colour' is ignored",
    ]


def test_breaking_the_clingen_schema_is_detected():
    schema = copy.deepcopy(CLINGEN_SCHEMA)
    schema["workflow_states"].remove("submitted")
    schema["rules"].append({"rule": "max_total_points", "limit": 18})
    errors = validate_schema_definition(schema).errors
    assert len(errors) == 2
