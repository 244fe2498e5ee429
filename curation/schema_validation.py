r"""Validate a curation's evidence dict against a schema definition, and the definition itself.

Schema definition format (a JSON-able dict)::

    {
      "name": "ClinGen SOP v11", "version": "11",
      "fields": [
        {"name": "mondo_id", "type": "text", "required": True,
         "pattern": r"MONDO:\d{7}", "example": "MONDO:0007739", "label": "Disease"},
        {"name": "inheritance", "type": "select", "options": ["autosomal_dominant", ...]},
        {"name": "publications", "type": "list"},
        {"name": "publications[].pmid", "type": "pmid", "required": True},
      ],
      "rules": [{"rule": "max_genetic_points", "limit": 12},
                {"rule": "max_experimental_points", "limit": 6},
                {"rule": "contradictory_needs_description"}],
      "workflow_states": ["draft", "submitted", ...],
      "scoring": {"method": "clingen_sop_v11"},
    }

Field keys: "name" and "type" (required); "required" (bool, default false); "label", "help"
(form text); "options" (select, multiselect); "min"/"max" (number, score); "pattern" (regex the
whole text must match), "example" (shown when the pattern fails) and "max_length" (text);
"min_items" (list).

Field types: text, number, boolean, date (ISO yyyy-mm-dd), select (value in options),
multiselect (list, each in options), pmid (string or int of 1-10 digits), hgnc_id
(HGNC:<digits>), score (number >= 0, optional max), list (a JSON list, optional min_items).

Paths: "name" is a dotted path into the evidence dict. A segment ending in "[]" names a list
and the rest of the path applies to every item, so "publications[].pmid" checks each
publication and messages name the item: "publications[2].pmid: 'abc' is not a PubMed id
(1-10 digits)". "required" on such a path means every item needs the value; to require the list
itself, declare it as a "list" field with "required" and/or "min_items". null counts as missing.

Rules (all report errors): max_genetic_points / max_experimental_points compare the uncapped
points computed by curation.scoring with "limit" (scoring caps silently, so entering more than
the SOP allows must be caught here); contradictory_needs_description requires a non-empty
contradictory_description when contradictory_evidence is true. When the schema scores with
"clingen_sop_v11" or has a limit rule, evidence that scoring cannot read is an error too.
Evidence keys not declared in the schema give warnings; unknown rule names are skipped with a
warning. validate_evidence expects a schema that passed validate_schema_definition.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeGuard

import regex

from curation import scoring

FIELD_TYPES = (
    "text",
    "number",
    "boolean",
    "date",
    "select",
    "multiselect",
    "pmid",
    "hgnc_id",
    "score",
    "list",
)
FIELD_KEYS = frozenset(
    {
        "name",
        "type",
        "required",
        "label",
        "help",
        "options",
        "min",
        "max",
        "pattern",
        "example",
        "max_length",
        "min_items",
    }
)
TYPES_WITH_OPTIONS = ("select", "multiselect")
TYPES_WITH_BOUNDS = ("number", "score")
SCHEMA_KEYS = frozenset(
    {"name", "version", "description", "fields", "rules", "workflow_states", "scoring"}
)
REQUIRED_WORKFLOW_STATES = ("draft", "submitted")
SCORING_METHODS = ("clingen_sop_v11",)
# The SOP cap each limit rule mirrors; a higher limit cannot lift scoring's cap.
LIMIT_RULES = {
    "max_genetic_points": ("genetic", scoring.MAX_GENETIC_POINTS),
    "max_experimental_points": ("experimental", scoring.MAX_EXPERIMENTAL_POINTS),
}
RULES = (*LIMIT_RULES, "contradictory_needs_description")

# Seconds one schema pattern may take on one value.
PATTERN_TIMEOUT = 0.1
SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[\])?")
PMID = re.compile(r"\d{1,10}")
PMID_LIMIT = 10**10  # PubMed ids have at most 10 digits
HGNC_ID = re.compile(r"HGNC:\d+")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MISSING = object()


@dataclass
class ValidationReport:
    """Errors block saving or submitting; warnings are shown but do not block."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """Return whether there are no errors."""
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-able copy including ``valid``."""
        return {"valid": self.valid, "errors": list(self.errors), "warnings": list(self.warnings)}


# --- evidence ---------------------------------------------------------------------------


def validate_evidence(evidence: Mapping[str, Any], schema: Mapping[str, Any]) -> ValidationReport:
    """Check evidence against the schema's fields and business rules."""
    report = ValidationReport()
    if not isinstance(evidence, Mapping):
        report.errors.append("evidence: expected an object with named fields")
        return report
    fields = [item for item in schema.get("fields") or [] if isinstance(item, Mapping)]
    for definition in fields:
        report.errors.extend(_field_errors(evidence, definition))
    report.errors.extend(_rule_errors(evidence, schema, report))
    report.warnings.extend(_unknown_key_warnings(evidence, fields, schema.get("name", "")))
    report.errors = _unique(report.errors)
    report.warnings = _unique(report.warnings)
    return report


def _field_errors(evidence: Mapping[str, Any], definition: Mapping[str, Any]) -> list[str]:
    """Return errors for every value the field's path addresses."""
    errors: list[str] = []
    segments = _segments(str(definition.get("name", "")))
    if segments is None:
        return [f"schema field {definition.get('name')!r}: not a valid field path"]
    check = CHECKS.get(str(definition.get("type")))
    if check is None:
        return [f"schema field {definition.get('name')!r}: unknown type {definition.get('type')!r}"]
    for path, value in _lookup(evidence, segments, "", errors):
        if value is MISSING:
            if definition.get("required"):
                errors.append(f"{path}: is required but missing")
            continue
        problem = check(value, definition)
        if problem:
            errors.append(f"{path}: {problem}")
    return errors


def _lookup(
    node: Any, segments: list[tuple[str, bool]], prefix: str, errors: list[str]
) -> list[tuple[str, Any]]:
    """Return (concrete path, value or MISSING) pairs; container problems go to errors."""
    if not segments:
        return [(prefix, node)]
    (key, is_list), rest = segments[0], segments[1:]
    path = f"{prefix}.{key}" if prefix else key
    if not isinstance(node, Mapping):
        errors.append(f"{prefix}: expected an object with named fields, got {_type(node)}")
        return []
    value = node.get(key)
    if value is None:
        # An absent list has no items to check, even when it sits inside an absent object.
        if is_list or any(in_list for _, in_list in rest):
            return []
        return [(_join(path, rest), MISSING)]
    if not is_list:
        return _lookup(value, rest, path, errors)
    if not isinstance(value, list):
        errors.append(f"{path}: expected a list, got {_type(value)}")
        return []
    found: list[tuple[str, Any]] = []
    for index, item in enumerate(value):
        found.extend(_lookup(item, rest, f"{path}[{index}]", errors))
    return found


def _rule_errors(
    evidence: Mapping[str, Any], schema: Mapping[str, Any], report: ValidationReport
) -> list[str]:
    """Return business-rule errors; unknown rules become warnings on the report."""
    rules = schema.get("rules") or []
    scored = _uses_sop_scoring(schema)
    errors: list[str] = []
    totals = _uncapped_totals(evidence, report.errors, errors) if scored else None
    for rule in rules:
        name = rule.get("rule") if isinstance(rule, Mapping) else None
        if name in LIMIT_RULES:
            if totals is not None:
                errors.extend(_limit_errors(name, rule, totals))
        elif name == "contradictory_needs_description":
            errors.extend(_contradictory_errors(evidence))
        else:
            report.warnings.append(f"schema rule {name!r} is unknown and was not checked")
    return errors


def _uses_sop_scoring(schema: Mapping[str, Any]) -> bool:
    """Return whether the schema scores with SOP v11 or has a rule that needs its totals."""
    config = schema.get("scoring")
    method = config.get("method") if isinstance(config, Mapping) else None
    rules = schema.get("rules") or []
    names = {rule.get("rule") for rule in rules if isinstance(rule, Mapping)}
    return method in SCORING_METHODS or bool(names & set(LIMIT_RULES))


def _uncapped_totals(
    evidence: Mapping[str, Any], known: list[str], errors: list[str]
) -> dict[str, float] | None:
    """Return scoring's uncapped totals, or None after reporting why they cannot be computed."""
    try:
        return scoring.uncapped_points(evidence)
    except scoring.EvidenceError as error:
        # A field check usually reported the same path already; say it once.
        if not any(message.startswith(f"{error.path}:") for message in known):
            errors.append(str(error))
        return None


def _limit_errors(name: str, rule: Mapping[str, Any], totals: Mapping[str, float]) -> list[str]:
    """Return an error when uncapped points exceed the rule's limit."""
    kind, sop_cap = LIMIT_RULES[name]
    limit = rule.get("limit", sop_cap)
    points = totals[kind]
    if not _is_number(limit) or points <= limit:
        return []
    return [
        f"{kind}: {points:g} {kind} points entered but at most {limit:g} are allowed; "
        f"remove or down-score evidence until the total is {limit:g} or less"
    ]


def _contradictory_errors(evidence: Mapping[str, Any]) -> list[str]:
    """Return an error when contradictory evidence is flagged without a description."""
    if evidence.get("contradictory_evidence") is not True:
        return []
    description = evidence.get("contradictory_description")
    if isinstance(description, str) and description.strip():
        return []
    return [
        "contradictory_description: required when contradictory_evidence is true; "
        "describe the contradictory evidence and cite its PMIDs"
    ]


def _unknown_key_warnings(
    evidence: Mapping[str, Any], fields: list[Mapping[str, Any]], schema_name: str
) -> list[str]:
    """Return a warning for every evidence key the schema does not declare."""
    declared: set[tuple[str, ...]] = set()
    for definition in fields:
        keys = tuple(key for key, _ in _segments(str(definition.get("name", ""))) or [])
        declared.update(keys[:end] for end in range(1, len(keys) + 1))
    containers = {keys[:-1] for keys in declared}
    warnings: list[str] = []

    def walk(node: Any, keys: tuple[str, ...], path: str) -> None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, keys, f"{path}[{index}]")
            return
        if not isinstance(node, Mapping) or (keys and keys not in containers):
            return  # a declared leaf: its value is checked by its type, not walked
        for key, value in node.items():
            child_keys = (*keys, str(key))
            child_path = f"{path}.{key}" if path else str(key)
            if child_keys not in declared:
                warnings.append(
                    f"{child_path}: not defined in schema {schema_name!r}; it is kept but not "
                    "validated, so remove it or add it to the schema"
                )
            else:
                walk(value, child_keys, child_path)

    walk(evidence, (), "")
    return warnings


# --- field type checks: each returns a problem description or None ----------------------


def _check_text(value: Any, definition: Mapping[str, Any]) -> str | None:
    """Check text with optional max_length and pattern."""
    if not isinstance(value, str):
        return f"{value!r} is not text"
    max_length = definition.get("max_length")
    if max_length is not None and len(value) > max_length:
        return f"is {len(value)} characters long; shorten it to at most {max_length}"
    pattern = definition.get("pattern")
    try:
        # Patterns are staff-written: the regex module's timeout bounds catastrophic
        # backtracking (e.g. "(a+)+$" against a long text) instead of hanging the run.
        matches = not pattern or regex.fullmatch(pattern, value, timeout=PATTERN_TIMEOUT)
    except regex.error:
        return f"cannot be checked: the schema pattern {pattern!r} is not a valid expression"
    except TimeoutError:
        return (
            f"cannot be checked: the schema pattern {pattern!r} took over {PATTERN_TIMEOUT}s "
            "on this value; simplify the pattern (avoid nested repeats such as (a+)+)"
        )
    if not matches:
        example = definition.get("example")
        hint = f" (e.g. {example})" if example else f" ({pattern})"
        return f"{value!r} does not have the expected format{hint}"
    return None


def _check_number(value: Any, definition: Mapping[str, Any]) -> str | None:
    """Check a finite number within optional min/max."""
    if not _is_number(value):
        return f"{value!r} is not a number"
    return _bounds_problem(value, definition.get("min"), definition.get("max"))


def _check_score(value: Any, definition: Mapping[str, Any]) -> str | None:
    """Check a points value: a number from 0 up to an optional max."""
    if not _is_number(value):
        return f"{value!r} is not a number; enter points such as 1.5"
    if value < 0:
        return f"{value!r} is negative; points start at 0"
    return _bounds_problem(value, None, definition.get("max"))


def _check_boolean(value: Any, definition: Mapping[str, Any]) -> str | None:
    """Check true/false."""
    return None if isinstance(value, bool) else f"{value!r} is not true or false"


def _check_date(value: Any, definition: Mapping[str, Any]) -> str | None:
    """Check an ISO calendar date yyyy-mm-dd."""
    if isinstance(value, str) and ISO_DATE.fullmatch(value):
        try:
            date.fromisoformat(value)
            return None
        except ValueError:
            return f"{value!r} is not a real calendar date"
    return f"{value!r} is not a date (yyyy-mm-dd)"


def _check_select(value: Any, definition: Mapping[str, Any]) -> str | None:
    """Check a single choice from options."""
    options = list(definition.get("options") or [])
    if value in options:
        return None
    return f"{value!r} is not one of: {_listing(options)}"


def _check_multiselect(value: Any, definition: Mapping[str, Any]) -> str | None:
    """Check a list whose every entry is one of the options."""
    options = list(definition.get("options") or [])
    if not isinstance(value, list):
        return f"{value!r} is not a list of choices"
    unknown = [item for item in value if item not in options]
    if unknown:
        return f"{_listing(unknown, repr)} not among the options: {_listing(options)}"
    return None


def _check_pmid(value: Any, definition: Mapping[str, Any]) -> str | None:
    """Check a PubMed id given as a string or int of 1-10 digits."""
    if isinstance(value, str) and PMID.fullmatch(value):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < PMID_LIMIT:
        return None
    return f"{value!r} is not a PubMed id (1-10 digits)"


def _check_hgnc_id(value: Any, definition: Mapping[str, Any]) -> str | None:
    """Check an HGNC gene id such as HGNC:1100."""
    if isinstance(value, str) and HGNC_ID.fullmatch(value):
        return None
    return f"{value!r} is not an HGNC id (HGNC:<digits>, e.g. HGNC:1100)"


def _check_list(value: Any, definition: Mapping[str, Any]) -> str | None:
    """Check a JSON list with an optional minimum length."""
    if not isinstance(value, list):
        return f"expected a list, got {_type(value)}"
    min_items = definition.get("min_items") or 0
    if len(value) < min_items:
        return f"has {len(value)} item(s); add at least {min_items}"
    return None


CHECKS: dict[str, Callable[[Any, Mapping[str, Any]], str | None]] = {
    "text": _check_text,
    "number": _check_number,
    "boolean": _check_boolean,
    "date": _check_date,
    "select": _check_select,
    "multiselect": _check_multiselect,
    "pmid": _check_pmid,
    "hgnc_id": _check_hgnc_id,
    "score": _check_score,
    "list": _check_list,
}


# --- schema definition ------------------------------------------------------------------


def validate_schema_definition(schema: Mapping[str, Any]) -> ValidationReport:
    """Check that a schema definition is well-formed and usable for validation and workflow."""
    report = ValidationReport()
    if not isinstance(schema, Mapping):
        report.errors.append("schema: expected an object with named fields")
        return report
    for key in ("name", "version"):
        if not _is_text(schema.get(key)):
            report.errors.append(f"{key}: required; give the schema a non-empty {key}")
    report.warnings.extend(
        f"{key}: not a schema key; it is ignored" for key in schema if key not in SCHEMA_KEYS
    )
    _check_field_definitions(schema.get("fields"), report)
    _check_rule_definitions(schema.get("rules"), report)
    _check_workflow_states(schema.get("workflow_states"), report)
    _check_scoring(schema.get("scoring"), report)
    return report


def _check_field_definitions(fields: Any, report: ValidationReport) -> None:
    """Report missing, malformed or duplicated field definitions."""
    if not isinstance(fields, list) or not fields:
        report.errors.append("fields: required; define at least one field")
        return
    seen: set[str] = set()
    for index, definition in enumerate(fields):
        where = f"fields[{index}]"
        if not isinstance(definition, Mapping):
            report.errors.append(f"{where}: expected an object with 'name' and 'type'")
            continue
        name = definition.get("name")
        if _is_text(name):
            where = f"{where} ({name})"
            if name in seen:
                report.errors.append(f"{where}: duplicate field name; each name must be unique")
            seen.add(name)
        report.errors.extend(f"{where}: {problem}" for problem in _field_problems(definition))
        report.warnings.extend(
            f"{where}: unknown key {key!r} is ignored"
            for key in definition
            if key not in FIELD_KEYS
        )


def _field_problems(definition: Mapping[str, Any]) -> list[str]:
    """Return what is wrong with one field definition."""
    problems = []
    name, kind = definition.get("name"), definition.get("type")
    if not _is_text(name):
        problems.append("'name' is required")
    elif _segments(name) is None:
        problems.append("'name' must be a dotted path like 'genetic.case_level[].points'")
    if kind not in FIELD_TYPES:
        problems.append(f"type {kind!r} is not one of: {_listing(FIELD_TYPES)}")
    if not isinstance(definition.get("required", False), bool):
        problems.append("'required' must be true or false")
    if kind in TYPES_WITH_OPTIONS:
        problems.extend(_options_problems(definition.get("options")))
    if kind in TYPES_WITH_BOUNDS:
        problems.extend(_bounds_problems(definition.get("min"), definition.get("max")))
    if kind == "text":
        problems.extend(_text_problems(definition))
    if kind == "list" and not _is_count(definition.get("min_items", 0)):
        problems.append("'min_items' must be a whole number of 0 or more")
    return problems


def _options_problems(options: Any) -> list[str]:
    """Return problems with a select/multiselect options list."""
    if not isinstance(options, list) or not options:
        return ["select fields need a non-empty 'options' list"]
    if any(not isinstance(option, str | int | float) for option in options):
        return ["'options' must be plain text or numbers"]
    if len(set(options)) != len(options):
        return ["'options' contains duplicates"]
    return []


def _bounds_problems(minimum: Any, maximum: Any) -> list[str]:
    """Return problems with numeric min/max settings."""
    problems = [
        f"'{key}' must be a number"
        for key, value in (("min", minimum), ("max", maximum))
        if value is not None and not _is_number(value)
    ]
    if not problems and minimum is not None and maximum is not None and minimum > maximum:
        problems.append(f"'min' ({minimum:g}) is greater than 'max' ({maximum:g})")
    return problems


def _text_problems(definition: Mapping[str, Any]) -> list[str]:
    """Return problems with a text field's pattern and max_length."""
    problems = []
    pattern = definition.get("pattern")
    if pattern is not None:
        try:
            regex.compile(pattern)
        except (regex.error, TypeError) as error:
            problems.append(f"'pattern' is not a valid regular expression ({error})")
    max_length = definition.get("max_length")
    if max_length is not None and (not _is_count(max_length) or max_length == 0):
        problems.append("'max_length' must be a whole number of 1 or more")
    return problems


def _check_rule_definitions(rules: Any, report: ValidationReport) -> None:
    """Report unknown rules and bad limits."""
    if rules is None:
        return
    if not isinstance(rules, list):
        report.errors.append("rules: expected a list of {'rule': ...} objects")
        return
    for index, rule in enumerate(rules):
        where = f"rules[{index}]"
        name = rule.get("rule") if isinstance(rule, Mapping) else None
        if name not in RULES:
            report.errors.append(f"{where}: unknown rule {name!r}; use one of: {_listing(RULES)}")
        elif name in LIMIT_RULES:
            _check_limit(rule.get("limit"), LIMIT_RULES[name][1], f"{where} ({name})", report)


def _check_limit(limit: Any, sop_cap: float, where: str, report: ValidationReport) -> None:
    """Report a missing or negative limit, and warn about limits above the SOP cap."""
    if not _is_number(limit) or limit < 0:
        report.errors.append(f"{where}: 'limit' must be a number of 0 or more")
    elif limit > sop_cap:
        report.warnings.append(
            f"{where}: limit {limit:g} is above the SOP v11 maximum of {sop_cap:g}; "
            f"scoring still caps at {sop_cap:g}"
        )


def _check_workflow_states(states: Any, report: ValidationReport) -> None:
    """Report malformed workflow states or missing draft/submitted states."""
    if not isinstance(states, list) or not all(_is_text(state) for state in states):
        report.errors.append("workflow_states: expected a list of state names")
        return
    if len(set(states)) != len(states):
        report.errors.append("workflow_states: contains duplicates")
    missing = [state for state in REQUIRED_WORKFLOW_STATES if state not in states]
    if missing:
        report.errors.append(f"workflow_states: must include {_listing(missing, repr)}")


def _check_scoring(config: Any, report: ValidationReport) -> None:
    """Report an unknown scoring method (scoring is optional)."""
    if config is None:
        return
    method = config.get("method") if isinstance(config, Mapping) else None
    if method not in SCORING_METHODS:
        report.errors.append(
            f"scoring.method: {method!r} is unknown; use one of: {_listing(SCORING_METHODS)}"
        )


# --- helpers -----------------------------------------------------------------------------


def _segments(name: str) -> list[tuple[str, bool]] | None:
    """Split a field path into (key, is_list) pairs, or None if it is malformed."""
    parts = name.split(".")
    if not all(SEGMENT.fullmatch(part) for part in parts):
        return None
    return [(part.removesuffix("[]"), part.endswith("[]")) for part in parts]


def _join(path: str, rest: list[tuple[str, bool]]) -> str:
    """Append the unresolved remainder of a field path to a concrete path."""
    return ".".join([path, *(key + ("[]" if is_list else "") for key, is_list in rest)])


def _bounds_problem(value: float, minimum: Any, maximum: Any) -> str | None:
    """Return why value lies outside [minimum, maximum], or None."""
    if _is_number(minimum) and value < minimum:
        return f"{value!r} is below the minimum of {minimum:g}"
    if _is_number(maximum) and value > maximum:
        return f"{value!r} is above the maximum of {maximum:g}"
    return None


def _is_number(value: Any) -> bool:
    """Return whether value is a finite int or float (booleans are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value: Any) -> bool:
    """Return whether value is a non-negative int."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_text(value: Any) -> TypeGuard[str]:
    """Return whether value is a non-blank string."""
    return isinstance(value, str) and bool(value.strip())


def _type(value: Any) -> str:
    """Return a curator-friendly name for value's JSON type."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    names = {str: "text", list: "a list", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _listing(values: Iterable[Any], show: Callable[[Any], str] = str) -> str:
    """Join values for a message."""
    return ", ".join(show(value) for value in values)


def _unique(messages: list[str]) -> list[str]:
    """Drop repeated messages, keeping first-seen order."""
    return list(dict.fromkeys(messages))
