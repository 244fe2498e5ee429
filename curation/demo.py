"""Demo data: a kidney-genetics scope seeded from real diagnostic-panel gene lists.

The genes are real (five providers' kidney panels, MIT-licensed, data/kidney-panels/).
The curations' evidence is synthetic (seeded, reproducible) and labelled as such: it gives
the validation and scoring operations something realistic to chew on.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any, cast

from django.conf import settings

from curation.clingen_schema import INHERITANCE_OPTIONS
from curation.factories import ClinGenSchemaFactory, demo_evidence
from curation.models import Curation, CurationSchema, Scope

DEMO_SCOPE = "kidney-genetics"
CURATOR_SCOPE = "curator-sandbox"
PANEL_DIR = Path("data/kidney-panels")
PANEL_FILES = [
    "cegat.json",
    "blueprint_genetics.json",
    "invitae.json",
    "mvz_medicover.json",
    "prevention_genetics.json",
]
DEMO_DISEASE = ("Kidney disease (synthetic demo evidence)", "MONDO:0005240")
# Genes listed by at least this many providers get a demo curation.
MIN_PROVIDERS_FOR_CURATION = 3


def demo_scope() -> Scope:
    """The demo scope, with its five panel files as sources."""
    scope, _ = Scope.objects.get_or_create(
        name=DEMO_SCOPE,
        defaults={
            "title": "Kidney genetics",
            "description": "Genes on commercial kidney diagnostic panels (five providers).",
            "sources": [str(PANEL_DIR / name) for name in PANEL_FILES],
        },
    )
    return scope


def curator_scope(owner: Any) -> Scope:
    """A scope of the demo's non-staff curator, so that login can run the pipeline too."""
    scope, _ = Scope.objects.get_or_create(
        name=CURATOR_SCOPE,
        defaults={
            "title": "Curator's sandbox",
            "description": "One panel, the curator's own: they may import and run pipelines.",
            "sources": [str(PANEL_DIR / PANEL_FILES[0])],
            "owner": owner,
        },
    )
    return scope


def provider_counts() -> Counter[str]:
    """How many providers' panels list each HGNC id."""
    counts: Counter[str] = Counter()
    for name in PANEL_FILES:
        document = json.loads((Path(settings.BASE_DIR) / PANEL_DIR / name).read_text())
        counts.update({gene["hgnc_id"] for gene in document["genes"]})
    return counts


def demo_curations(scope: Scope) -> int:
    """Create a draft curation for each widely-listed gene in the scope; returns how many."""
    schema = cast(CurationSchema, ClinGenSchemaFactory())
    counts = provider_counts()
    created = 0
    for gene in scope.genes.order_by("hgnc_id"):
        providers = counts.get(gene.hgnc_id, 0)
        if providers < MIN_PROVIDERS_FOR_CURATION:
            continue
        rng = random.Random(gene.hgnc_id)
        evidence = demo_evidence(rng, strength=min(4, providers - 1 + rng.randint(-1, 0)))
        if rng.random() < 0.03:  # a few records a curator must fix, so validation has work
            evidence["contradictory_evidence"] = True
        _, was_created = Curation.objects.get_or_create(
            scope=scope,
            gene=gene,
            disease=DEMO_DISEASE[0],
            inheritance=rng.choice(INHERITANCE_OPTIONS[:2]),
            defaults={"mondo_id": DEMO_DISEASE[1], "schema": schema, "evidence": evidence},
        )
        created += was_created
    return created
