"""factory_boy factories for curation data: used by the tests and to seed the demo."""

from __future__ import annotations

import random
from typing import Any

import factory

from curation.clingen_schema import CLINGEN_SCHEMA, INHERITANCE_OPTIONS, SCHEMA_NAME, SCHEMA_VERSION
from curation.models import Curation, CurationSchema, Gene, Scope


class GeneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Gene
        django_get_or_create = ("hgnc_id",)

    hgnc_id = factory.Sequence(lambda n: f"HGNC:{900000 + n}")
    approved_symbol = factory.Sequence(lambda n: f"GENE{n}")
    location = "16p13.3"
    chromosome = "16"


class ScopeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Scope
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"scope-{n}")
    title = factory.LazyAttribute(lambda o: o.name.replace("-", " ").title())


class ClinGenSchemaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CurationSchema
        django_get_or_create = ("name",)

    name = SCHEMA_NAME
    version = SCHEMA_VERSION
    definition = factory.LazyFunction(lambda: CLINGEN_SCHEMA)


def demo_evidence(rng: random.Random, *, strength: int) -> dict[str, Any]:
    """Plausible synthetic ClinGen evidence; strength 0-4 moves it from Limited to Definitive."""
    cases = [
        {
            "pmid": str(rng.randint(10_000_000, 39_999_999)),
            "proband": f"P{i + 1}",
            "variant_type": rng.choice(["predicted_null", "other"]),
            "points": rng.choice([0.5, 1.0, 1.5]),
        }
        for i in range(rng.randint(strength, 2 + strength * 3))
    ]
    first_year = rng.randint(1998, 2022)
    publications = [
        {"pmid": case["pmid"], "year": min(2025, first_year + i)} for i, case in enumerate(cases)
    ]
    experimental: dict[str, list[dict[str, Any]]] = {"function": [], "models": []}
    if strength >= 2:
        experimental["function"].append(
            {"pmid": cases[0]["pmid"], "kind": "expression", "points": 0.5}
        )
    if strength >= 3:
        experimental["models"].append(
            {"pmid": cases[-1]["pmid"], "kind": "non_human_model_organism", "points": 2.0}
        )
    return {
        "genetic": {"case_level": cases},
        "experimental": experimental,
        "publications": publications,
        "contradictory_evidence": False,
        "contradictory_description": "",
    }


class CurationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Curation

    scope = factory.SubFactory(ScopeFactory)
    gene = factory.SubFactory(GeneFactory)
    schema = factory.SubFactory(ClinGenSchemaFactory)
    disease = "Polycystic kidney disease"
    mondo_id = "MONDO:0020642"
    inheritance = factory.Iterator(INHERITANCE_OPTIONS[:2])
    evidence = factory.LazyFunction(lambda: demo_evidence(random.Random(1), strength=2))
