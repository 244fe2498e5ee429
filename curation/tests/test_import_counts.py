"""What an import says about its rows is true: counts add up, the report re-imports as is,
a file with no gene rows is refused, and a pipeline with nothing to import says so."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.storage import default_storage

from curation import pipeline
from curation.gene_files import UnparseableFile, check_prefix, count_rows
from curation.gene_import import gene_import
from curation.launch_parameters import ScopePipelineParameters
from curation.models import Gene, Scope
from curation.tests.conftest import PANELS
from progress.models import OperationProgress, Status
from progress.serializers import operation_data
from progress.testing import flush
from progress.tracker import track_operation
from progress.web import listing

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fast_progress", "media"),
]

NOTES = (
    "Notes from the kidney panel meeting\nRemember to check PKD1 and PKD2 tomorrow.\n\nAsk Ana.\n"
)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def tracked_import(path, scope_name="kidney"):
    scope, _ = Scope.objects.get_or_create(name=scope_name)
    with track_operation("gene_import") as tracker:
        result = gene_import(path=path, scope=scope, tracker=tracker)
    flush()
    return result, OperationProgress.objects.get(pk=tracker.id)


def counts(run):
    return (
        run.items_added,
        run.items_updated,
        run.items_unchanged,
        run.items_skipped,
        run.items_failed,
    )


def test_the_counts_of_a_mixed_csv_add_up_to_its_rows(tmp_path):
    (tmp_path / "before.csv").write_text("hgnc_id,symbol,location\nHGNC:1,A,\nHGNC:2,B,1p1\n")
    tracked_import(tmp_path / "before.csv")
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(
        "hgnc_id,symbol,location\n"
        "HGNC:1,A,\n"  # unchanged
        "HGNC:2,B,2q3\n"  # updated: location (the stored chromosome stays)
        "HGNC:3,C,\n"  # added
        "HGNC:3,C,\n"  # repeats HGNC:3 in its batch: merged, skipped
        ",,\n"  # blank: skipped
        "HGNC:abc,D,\n"  # failed
        "HGNC:4,E,\n"  # added
    )
    _, run = tracked_import(mixed)
    assert (run.current_item, run.total_items) == (7, 7)
    assert counts(run) == (2, 1, 1, 2, 1)
    assert sum(counts(run)) == run.current_item
    assert run.metadata["updated_genes"] == [{"hgnc_id": "HGNC:2", "changed": ["location"]}]


def test_a_reimport_counts_every_gene_unchanged_and_says_so():
    tracked_import(PANELS / "cegat.json")
    _, run = tracked_import(PANELS / "cegat.json")
    assert counts(run) == (0, 0, 288, 0, 0)
    assert listing.result_text(operation_data(run)) == "288 unchanged"


def test_the_row_error_report_is_named_for_the_upload_and_reimports_once_fixed(tmp_path):
    broken = tmp_path / "broken_panel.csv"
    broken.write_text(
        "hgnc_id,approved_symbol,location,alias_symbols\n"
        "HGNC:9008,PKD1,16p13.3,PBP\n"
        "HGNC:abc,PKD2,4q22.1,APKD2|PC2\n"
        ",NOSUCHGENE,1p36,\n"
    )
    _, run = tracked_import(broken)
    assert run.items_failed == 2
    (entry,) = [e for e in run.metadata["files"] if e["kind"] == "report"]
    assert entry["label"] == "broken_panel-row-errors.csv"
    with default_storage.open(entry["name"]) as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read().decode())))
    assert [(r["hgnc_id"], r["approved_symbol"], r["location"]) for r in rows] == [
        ("HGNC:abc", "PKD2", "4q22.1"),
        ("", "NOSUCHGENE", "1p36"),
    ]
    assert rows[0]["alias_symbols"] == "APKD2|PC2" and rows[0]["line"] == "3"
    assert "HGNC:abc" in rows[0]["error"]

    rows[0]["hgnc_id"], rows[1]["hgnc_id"] = "HGNC:9009", "HGNC:12345"
    fixed = tmp_path / "broken_panel-row-errors.csv"
    with fixed.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    _, again = tracked_import(fixed)
    assert (again.status, again.items_added, again.items_failed) == (Status.COMPLETED, 2, 0)
    pkd2 = Gene.objects.get(hgnc_id="HGNC:9009")
    assert (pkd2.approved_symbol, pkd2.location, pkd2.alias_symbols) == (
        "PKD2",
        "4q22.1",
        ["APKD2", "PC2"],
    )


def test_a_prose_notes_file_is_refused_as_no_gene_rows(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text(NOTES)
    with pytest.raises(UnparseableFile, match="No gene rows found"):
        check_prefix(io.BytesIO(NOTES.encode()), name="notes.txt")
    with pytest.raises(UnparseableFile, match="No gene rows found"):
        count_rows(notes)
    with pytest.raises(UnparseableFile):
        tracked_import(notes)
    run = OperationProgress.objects.get()
    assert run.status == Status.FAILED and "No gene rows found" in run.error_message
    assert not Gene.objects.exists()


def test_a_pipeline_on_a_scope_without_sources_fails_saying_there_is_nothing_to_import():
    scope = Scope.objects.create(name="empty", sources=[])
    with pytest.raises(ValueError), track_operation("curation_pipeline") as tracker:
        pipeline.scope_pipeline(scope=scope, tracker=tracker)
    flush()
    run = OperationProgress.objects.get(pk=tracker.id)
    assert run.status == Status.FAILED
    assert "'empty' has no sources, so there is nothing to import" in run.error_message


def test_a_cancelled_pipeline_names_the_stage_it_stopped_in_in_that_stages_unit():
    stage = {"name": "score", "index": 3, "count": 4, "unit": "curations"}
    data = {"status": Status.CANCELLED, "current_item": 0, "total_items": 276}
    text = listing.result_text({**data, "metadata": {"stage": stage}})
    assert text == "Stopped on request in stage 3 of 4: score, 0 of 276 curations"
    assert listing.result_text({**data, "metadata": {}}) == "Stopped on request"


def test_a_finished_pipeline_never_adds_genes_to_curations():
    scope = Scope.objects.create(name="two", sources=["data/kidney-panels/cegat.json"])
    with track_operation("curation_pipeline") as tracker:
        pipeline.scope_pipeline(scope=scope, tracker=tracker)
    flush()
    run = OperationProgress.objects.get(pk=tracker.id)
    units = [entry["unit"] for entry in run.metadata["stage_results"]]
    assert units == ["gene rows", "curations", "curations", "scopes"]
    assert run.metadata["stage_results"][0]["items"] == 288
    # Not 2 genes + 0 curations + 0 + 1 scope = "3 of 3": the last stage's own count.
    assert (run.current_item, run.total_items) == (1, 1)
    assert run.metadata["stage"]["unit"] == "scopes"


def test_starting_a_pipeline_on_a_scope_without_sources_is_refused_with_how_to_fix_it():
    Scope.objects.create(name="empty", sources=[])
    trusted = {"trusted": True}  # as a command starts it: any scope, the check is the sources
    parameters = ScopePipelineParameters(data={"scope": "empty"}, context=trusted)
    assert not parameters.is_valid()
    (message,) = parameters.errors["scope"]
    assert "nothing to import" in message and "sources in the admin" in message
    Scope.objects.create(name="full", sources=["data/kidney-panels/mvz_medicover.json"])
    assert ScopePipelineParameters(data={"scope": "full"}, context=trusted).is_valid()
