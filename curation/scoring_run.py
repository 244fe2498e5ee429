"""Scoring calculations: score every curation of a scope from its evidence (ClinGen SOP v11)."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from curation.models import Curation, Scope
from curation.scoring import EvidenceError, ScoreResult, score_evidence
from progress.tracker import Reporter

BATCH_SIZE = 500
SCORE_FIELDS = [
    "genetic_score",
    "experimental_score",
    "total_score",
    "classification",
    "score_breakdown",
    "scored_at",
]


def curations_score(
    *, scope: Scope | None, tracker: Reporter, as_of: date | None = None, pace: float = 0.0
) -> dict[str, int]:
    """Score curations in batches; unscorable evidence is counted failed, with its reason."""
    as_of = as_of or timezone.localdate()
    curations = Curation.objects.select_related("gene").order_by("pk")
    if scope is not None:
        curations = curations.filter(scope=scope)
    ids = list(curations.values_list("pk", flat=True))
    tracker.update(current_item=0, total_items=len(ids), operation="Scoring", force=True)
    classes: dict[str, int] = {}
    done = updated = failed = review = 0
    for start in range(0, len(ids), BATCH_SIZE):
        tracker.raise_if_cancelled()
        batch = list(curations.filter(pk__in=ids[start : start + BATCH_SIZE]))
        scored = []
        for curation in batch:
            # Per curation, so a cancel stops the run within about a second; a batch cut
            # short is not written, as its counts were never reported.
            tracker.raise_if_cancelled()
            try:
                result = score_evidence(curation.evidence, as_of=as_of)
            except EvidenceError as exc:
                failed += 1
                tracker.record_failure(line=curation.pk, value=str(curation), reason=str(exc))
            else:
                if _apply_score(curation, result):
                    updated += 1
                scored.append(curation)
                classes[result.classification] = classes.get(result.classification, 0) + 1
                review += result.needs_expert_review
            done += 1
            if pace:
                time.sleep(pace)  # demo only
                tracker.update(current_item=done)
        with transaction.atomic():
            Curation.objects.bulk_update(scored, SCORE_FIELDS)
        tracker.update(current_item=done, items_updated=updated, items_failed=failed)
    tracker.metadata["classifications"] = classes
    tracker.metadata["needs_expert_review"] = review
    tracker.metadata["as_of"] = as_of.isoformat()
    tracker.update(current_item=done, items_updated=updated, items_failed=failed, force=True)
    return classes


def _apply_score(curation: Curation, result: ScoreResult) -> bool:
    """Store a score result on curation; True if its scores, class or notes changed."""
    before = (curation.total_score, curation.classification, curation.score_breakdown)
    curation.genetic_score = result.genetic
    curation.experimental_score = result.experimental
    curation.total_score = result.total
    curation.classification = result.classification
    curation.score_breakdown = stored_breakdown(result)
    curation.scored_at = timezone.now()
    return before != (curation.total_score, curation.classification, curation.score_breakdown)


def stored_breakdown(result: ScoreResult) -> dict[str, Any]:
    """Return what score_breakdown keeps: the category points and the notes on the class."""
    notes = result.as_dict()
    for column in ("genetic", "experimental", "total", "classification"):
        del notes[column]  # stored in their own columns
    notes["categories"] = notes.pop("breakdown")
    return notes
