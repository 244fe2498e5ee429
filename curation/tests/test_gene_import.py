"""Bulk gene import on real panel files and planted bad rows, tracked end to end."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from curation.gene_files import UnparseableFile, read_rows
from curation.gene_import import BATCH_SIZE, gene_import
from curation.models import Gene, InvalidHgncId, Scope, ScopeGene, normalize_hgnc_id
from curation.tests.conftest import DATA, PANELS
from progress.models import OperationProgress, Status
from progress.tracker import track_operation
from progress.writer import get_writer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_progress")]


def tracked_import(path, scope_name="kidney", **kwargs):
    scope, _ = Scope.objects.get_or_create(name=scope_name)
    with track_operation("gene_import") as tracker:
        result = gene_import(path=path, scope=scope, tracker=tracker, **kwargs)
    get_writer().drain()
    return result, OperationProgress.objects.get(pk=tracker.id)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("HGNC:42", "HGNC:42"), ("hgnc:42", "HGNC:42"), ("42", "HGNC:42"), (" 0042 ", "HGNC:42")],
)
def test_hgnc_ids_are_normalised(raw, expected):
    assert normalize_hgnc_id(raw) == expected


@pytest.mark.parametrize("raw", ["HGNC:abc", "HGNC:", "PKD1", "", "HGNC:4.2"])
def test_malformed_hgnc_ids_are_refused_with_the_expected_form(raw):
    with pytest.raises(InvalidHgncId, match=r"write HGNC:<digits>"):
        normalize_hgnc_id(raw)


def test_cegat_panel_imports_every_gene_and_the_run_records_the_counts():
    expected = len(json.loads((PANELS / "cegat.json").read_text())["genes"])
    result, run = tracked_import(PANELS / "cegat.json")
    assert expected == 288
    assert (result.added, result.updated, result.failed) == (288, 0, 0)
    assert (run.status, run.current_item, run.total_items) == (Status.COMPLETED, 288, 288)
    assert (run.items_added, run.items_updated, run.items_failed) == (288, 0, 0)
    assert Gene.objects.count() == 288
    pkd1 = Gene.objects.get(approved_symbol="SLC7A7")
    assert pkd1.hgnc_id == "HGNC:11065"
    assert ScopeGene.objects.get(gene=pkd1).panels == ["Kidney Disease Panel"]


def test_reimporting_the_same_file_creates_no_duplicates():
    tracked_import(PANELS / "cegat.json")
    result, run = tracked_import(PANELS / "cegat.json")
    assert (run.items_added, run.items_updated, run.items_failed) == (0, 0, 0)
    assert result.unchanged == 288
    assert Gene.objects.count() == 288
    assert ScopeGene.objects.count() == 288


def test_a_second_panel_adds_new_genes_and_updates_shared_ones():
    tracked_import(PANELS / "cegat.json")
    cegat = {g["hgnc_id"] for g in json.loads((PANELS / "cegat.json").read_text())["genes"]}
    invitae = {g["hgnc_id"] for g in json.loads((PANELS / "invitae.json").read_text())["genes"]}
    _, run = tracked_import(PANELS / "invitae.json")
    assert run.items_added == len(invitae - cegat)
    assert run.items_updated == len(invitae & cegat)  # their panel lists grew
    assert Gene.objects.count() == len(cegat | invitae)


def test_planted_bad_rows_fail_with_line_and_reason_and_valid_rows_still_import():
    _result, run = tracked_import(DATA / "planted_bad_rows.csv")
    assert set(Gene.objects.values_list("hgnc_id", flat=True)) == {
        "HGNC:9008",
        "HGNC:9009",
        "HGNC:11065",
    }
    assert (run.items_added, run.items_failed) == (3, 4)
    errors = {e["line"]: e["reason"] for e in run.metadata["row_errors"]}
    assert errors == {
        4: "Row has neither an HGNC id nor a symbol; add at least one",
        5: "'HGNC:abc' is not an HGNC id; write HGNC:<digits> (e.g. HGNC:42) or the digits",
        6: "No HGNC id, and symbol 'NOSUCHGENE' matches no known gene; add its HGNC id",
        7: "Symbol 'PKD1' already belongs to HGNC:9008, not HGNC:12345; check the id or the symbol",
    }
    assert run.metadata["row_errors_total"] == 4
    report = Path(run.metadata["report_path"]).read_text().splitlines()
    assert report[0] == "line,value,reason"
    assert len(report) == 5


def test_bare_digit_ids_in_a_headerless_tsv_are_normalised():
    _, run = tracked_import(DATA / "headerless.tsv")
    assert run.items_added == 2
    gene = Gene.objects.get(hgnc_id="HGNC:42")
    assert (gene.approved_symbol, gene.location, gene.chromosome) == ("A1CF", "10q11.23", "10")


def test_a_renamed_symbol_updates_the_gene_and_keeps_the_old_symbol(tmp_path):
    tracked_import(DATA / "headerless.tsv")
    renamed = tmp_path / "renamed.csv"
    renamed.write_text("hgnc_id,symbol\nHGNC:42,A1CF-NEW\n")
    _, run = tracked_import(renamed)
    gene = Gene.objects.get(hgnc_id="HGNC:42")
    assert run.items_updated == 1
    assert (gene.approved_symbol, gene.previous_symbols) == ("A1CF-NEW", ["A1CF"])


def test_an_unparseable_file_fails_the_run_and_writes_nothing():
    with pytest.raises(UnparseableFile, match="Invalid JSON at line 2"):
        tracked_import(DATA / "truncated.json")
    run = OperationProgress.objects.get()
    assert run.status == Status.FAILED
    assert run.error_message.startswith("UnparseableFile: Invalid JSON at line 2, column 1")
    assert Gene.objects.count() == 0


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("", "The file is empty"),
        ("foo,bar\n1,2\n", None),
        ("name;other\n", None),
    ],
)
def test_files_without_usable_columns_are_refused_or_fail_per_row(tmp_path, content, says):
    path = tmp_path / "genes.csv"
    path.write_text(content)
    if says:
        with pytest.raises(UnparseableFile, match=says):
            read_rows(path)
    else:
        rows = read_rows(path)  # headerless: read as HGNC_ID, SYMBOL; rows fail individually
        assert rows


def test_cancel_stops_at_a_batch_boundary_with_whole_batches_written(tmp_path, settings):
    path = tmp_path / "many.csv"
    path.write_text(
        "hgnc_id,symbol\n" + "".join(f"{n},SYN{n}\n" for n in range(1, 5 * BATCH_SIZE + 1))
    )
    scope = Scope.objects.create(name="big")
    holder = {}

    def run():
        with track_operation("gene_import") as tracker:
            holder["id"] = tracker.id
            gene_import(path=path, scope=scope, tracker=tracker, pace=0.0005)

    worker = threading.Thread(target=run)
    worker.start()
    while "id" not in holder:
        time.sleep(0.01)
    while OperationProgress.objects.get(pk=holder["id"]).current_item < BATCH_SIZE // 2:
        time.sleep(0.02)
    OperationProgress.objects.get(pk=holder["id"]).request_cancel()
    worker.join(30)
    get_writer().drain()
    run_row = OperationProgress.objects.get(pk=holder["id"])
    assert run_row.status == Status.CANCELLED
    written = Gene.objects.count()
    assert 0 <= written < 5 * BATCH_SIZE
    assert written % BATCH_SIZE == 0  # nothing half-written: whole batches only
    assert run_row.items_added == written


def test_ten_thousand_rows_import_in_batches_with_live_progress(tmp_path, monkeypatch):
    path = tmp_path / "synthetic.tsv"
    path.write_text("HGNC_ID\tSYMBOL\n" + "".join(f"{n}\tS{n}\n" for n in range(1, 10_001)))
    positions = []
    original = type(get_writer()).submit

    def spy(writer, job, *, wait):
        positions.append(job.fields["current_item"])
        return original(writer, job, wait=wait)

    monkeypatch.setattr(type(get_writer()), "submit", spy)
    result, run = tracked_import(path)
    assert (result.added, run.items_added, Gene.objects.count()) == (10_000, 10_000, 10_000)
    # Progress went out between batches, not only at the end.
    assert {BATCH_SIZE * k for k in range(1, 10)} <= set(positions)
