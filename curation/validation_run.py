"""Schema validation: check every schema definition, then every curation's evidence."""

from __future__ import annotations

import time

from django.db import transaction
from django.utils import timezone

from curation.models import Curation, CurationSchema, Scope
from curation.schema_validation import validate_evidence, validate_schema_definition
from progress.tracker import Reporter

BATCH_SIZE = 500
VALIDATION_FIELDS = ["validation_report", "validated_at"]


def curations_validate(
    *, scope: Scope | None, tracker: Reporter, pace: float = 0.0
) -> dict[str, int]:
    """Validate schemas and evidence; invalid records count in items_failed, not as a crash."""
    tracker.raise_if_cancelled()
    schema_problems = _validate_schemas(tracker)
    curations = Curation.objects.select_related("gene", "schema").order_by("pk")
    if scope is not None:
        curations = curations.filter(scope=scope)
    ids = list(curations.values_list("pk", flat=True))
    tracker.update(current_item=0, total_items=len(ids), operation="Validating", force=True)
    done = invalid = warned = 0
    for start in range(0, len(ids), BATCH_SIZE):
        tracker.raise_if_cancelled()
        batch = list(curations.filter(pk__in=ids[start : start + BATCH_SIZE]))
        for curation in batch:
            # Per record, so a cancel stops the run within about a second; a batch cut
            # short is not written, as its counts were never reported.
            tracker.raise_if_cancelled()
            report = validate_evidence(curation.form_record(), curation.schema.definition)
            curation.validation_report = report.as_dict()
            curation.validated_at = timezone.now()
            if not report.valid:
                invalid += 1
                tracker.record_failure(
                    line=curation.pk, value=str(curation), reason="; ".join(report.errors)
                )
            warned += bool(report.warnings)
            done += 1
            if pace:
                time.sleep(pace)  # demo only
                tracker.update(current_item=done)
        with transaction.atomic():
            Curation.objects.bulk_update(batch, VALIDATION_FIELDS)
        tracker.update(current_item=done, items_failed=invalid)
    summary = {"curations": done, "invalid": invalid, "with_warnings": warned, **schema_problems}
    tracker.metadata["validation"] = summary
    tracker.update(current_item=done, items_failed=invalid, force=True)
    return summary


def _validate_schemas(tracker: Reporter) -> dict[str, int]:
    problems = {}
    for schema in CurationSchema.objects.all():
        report = validate_schema_definition(schema.definition)
        if not report.valid:
            problems[str(schema)] = report.errors
    tracker.metadata["schema_errors"] = problems
    return {"schemas_invalid": len(problems)}
