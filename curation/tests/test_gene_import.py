"""Bulk gene import on real panel files and planted bad rows, tracked end to end."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
import tracemalloc

import pytest
from django.core.files.storage import default_storage

from curation.gene_files import UnparseableFile, count_rows, read_rows
from curation.gene_import import BATCH_SIZE, gene_import
from curation.models import Gene, InvalidHgncId, Scope, ScopeGene, normalize_hgnc_id
from curation.tests.conftest import DATA, PANELS
from progress.models import OperationProgress, Status
from progress.runtime.writer import get_writer
from progress.testing import flush
from progress.tracker import track_operation

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fast_progress", "media"),
]


@pytest.fixture
def media(settings, tmp_path):
    """Reports (and uploads) in a fresh storage folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def tracked_import(path, scope_name="kidney", **kwargs):
    scope, _ = Scope.objects.get_or_create(name=scope_name)
    with track_operation("gene_import") as tracker:
        result = gene_import(path=path, scope=scope, tracker=tracker, **kwargs)
    flush()
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
    with default_storage.open(report_name(run)) as handle:
        report = handle.read().decode().splitlines()
    assert (
        report[0]
        == "hgnc_id,approved_symbol,location,chromosome,previous_symbols,alias_symbols,line,error"
    )
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
    with pytest.raises(UnparseableFile, match="Invalid JSON near gene 2: parse error"):
        tracked_import(DATA / "truncated.json")
    run = OperationProgress.objects.get()
    assert run.status == Status.FAILED
    assert run.error_message.startswith("UnparseableFile: Invalid JSON near gene 2")
    assert Gene.objects.count() == 0


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("", "The file is empty"),
        ("foo,bar\n1,2\n", None),
        # Headerless, and no row starts with an HGNC id: not a gene list (issue 24).
        ("name;other\n", "No gene rows found"),
    ],
)
def test_files_without_usable_columns_are_refused_or_fail_per_row(tmp_path, content, says):
    path = tmp_path / "genes.csv"
    path.write_text(content)
    if says:
        with pytest.raises(UnparseableFile, match=says):
            read_rows(path)
    else:
        rows = read_rows(path)  # headerless with an id: read as HGNC_ID, SYMBOL; rows fail alone
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
    flush()
    run_row = OperationProgress.objects.get(pk=holder["id"])
    assert run_row.status == Status.CANCELLED
    written = Gene.objects.count()
    assert 0 <= written < 5 * BATCH_SIZE
    assert written % BATCH_SIZE == 0  # nothing half-written: whole batches only
    assert run_row.items_added == written


@pytest.mark.service
@pytest.mark.slow
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


# --- hostile input (issue 11) ------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["²", "HGNC:²", "٣", "HGNC:\uff11\uff12", "12345678901", "HGNC:" + "9" * 5000]
)
def test_ids_that_are_not_ascii_digits_or_are_too_long_are_refused(raw):
    with pytest.raises(InvalidHgncId, match=r"HGNC:<digits>"):
        normalize_hgnc_id(raw)


def test_a_unicode_digit_id_fails_its_row_and_the_others_import(tmp_path):
    path = tmp_path / "genes.csv"
    path.write_text("HGNC:10\n²\nHGNC:11\n")
    result, run = tracked_import(path)
    assert (run.status, result.added, result.failed) == (Status.COMPLETED, 2, 1)
    assert run.metadata["row_errors"][0]["line"] == 2
    assert "is not an HGNC id" in run.metadata["row_errors"][0]["reason"]


@pytest.mark.postgres
def test_values_too_long_for_their_columns_fail_their_rows_not_the_batch(tmp_path):
    genes = [
        {"hgnc_id": "HGNC:1", "symbol": "S" * 51},
        {"hgnc_id": "HGNC:2", "symbol": "OK2", "location": "1p" + "1" * 49},
        {"hgnc_id": "HGNC:3", "symbol": "OK3", "chromosome": "C" * 11},
        {"hgnc_id": "HGNC:4", "symbol": "OK4", "alias_symbols": ["A" * 51]},
        {"hgnc_id": "HGNC:5", "symbol": "OK5", "panels": ["P" * 201]},
        {"hgnc_id": "HGNC:6", "symbol": "NUL\u0000"},
        {"hgnc_id": "HGNC:7", "symbol": "OK7", "location": "1" * 12},  # no chromosome that fits
        {"hgnc_id": "HGNC:8", "symbol": "OK8"},
    ]
    path = tmp_path / "long.json"
    path.write_text(json.dumps({"genes": genes}))
    result, run = tracked_import(path)
    assert (run.status, result.added, result.failed) == (Status.COMPLETED, 2, 6)
    assert set(Gene.objects.values_list("hgnc_id", flat=True)) == {"HGNC:7", "HGNC:8"}
    reasons = {e["line"]: e["reason"] for e in run.metadata["row_errors"]}
    assert reasons[1] == "Symbol is 51 characters long; the limit is 50"
    assert "Chromosome is 11 characters long" in reasons[3]
    assert "NUL character" in reasons[6]
    assert Gene.objects.get(hgnc_id="HGNC:7").chromosome == ""


def test_json_values_of_the_wrong_shape_fail_their_rows(tmp_path):
    path = tmp_path / "shapes.json"
    path.write_text(json.dumps([{"hgnc_id": "HGNC:1", "symbol": ["A"]}, 7, {"hgnc_id": 42}]))
    result, run = tracked_import(path)
    assert (result.added, result.failed) == (1, 2)
    reasons = {e["line"]: e["reason"] for e in run.metadata["row_errors"]}
    assert reasons[1].startswith("symbol is a list; write text")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"[" + b"9" * 5000 + b"]", "a number longer than 100 digits"),
        (b"[" * 100_000, "nested deeper than 6 levels"),
        (b'[{"symbol": "' + b"x" * 70_000 + b'"}]', "longer than 65,536 characters"),
        (b"hgnc_id\n" + b"1," * 40_000 + b"\n", "Line 2: a row is longer than 65,536"),
        (b'hgnc_id\n"1\n', "Cannot read the file as CSV"),
        (b"hgnc_id\n1\n\xff\n", "not UTF-8 text"),
    ],
)
def test_hostile_files_fail_the_run_with_a_message_and_write_nothing(tmp_path, content, says):
    path = tmp_path / ("genes.json" if content.startswith(b"[") else "genes.csv")
    path.write_bytes(content)
    with pytest.raises(UnparseableFile, match=says):
        tracked_import(path)
    assert OperationProgress.objects.get().status == Status.FAILED
    assert Gene.objects.count() == 0


def test_a_bad_row_after_the_first_batch_fails_the_file_before_anything_is_written(tmp_path):
    path = tmp_path / "late.csv"
    path.write_bytes(b"hgnc_id\n" + b"1\n" * (3 * BATCH_SIZE) + b'"unterminated\n')
    with pytest.raises(UnparseableFile, match="CSV"):
        tracked_import(path)
    assert Gene.objects.count() == 0


def report_name(run):
    """The storage name of the run's (only) report file."""
    (name,) = [entry["name"] for entry in run.metadata["files"] if entry["kind"] == "report"]
    return name


def test_report_cells_a_spreadsheet_would_run_are_escaped(tmp_path):
    path = tmp_path / "formulas.csv"
    path.write_text('hgnc_id,symbol\n=1+1*cmd|x!A0,\n@SUM(A1),\n"-2+3",\n"+A",\n9008,PKD1\n')
    _, run = tracked_import(path)
    with default_storage.open(report_name(run)) as handle:
        values = [row[0] for row in csv.reader(io.StringIO(handle.read().decode()))][1:]
    assert values == ["'=1+1*cmd|x!A0", "'@SUM(A1)", "'-2+3", "'+A"]


def test_the_report_is_a_download_of_the_run_stored_under_a_random_name(tmp_path):
    path = tmp_path / ("n" * 240 + ".csv")
    path.write_text("hgnc_id\n9008\nHGNC:abc\n")
    result, run = tracked_import(path)
    assert (run.status, result.added, result.failed) == (Status.COMPLETED, 1, 1)
    (entry,) = run.metadata["files"]
    assert entry["kind"] == "report" and entry["label"].startswith("nnn")
    assert entry["label"].endswith("…-row-errors.csv") and len(entry["label"]) <= 100
    assert entry["name"].startswith("progress/reports/") and len(entry["name"]) < 80
    assert "nnnnn" not in entry["name"]
    assert default_storage.exists(entry["name"])


def test_a_report_that_cannot_be_saved_leaves_the_committed_import_completed(tmp_path, monkeypatch):
    def broken_save(name, content, max_length=None):
        raise OSError("disk full")

    monkeypatch.setattr(default_storage, "save", broken_save)
    path = tmp_path / "genes.csv"
    path.write_text("hgnc_id\n9008\nHGNC:abc\n")
    result, run = tracked_import(path)
    assert (run.status, result.added, result.failed) == (Status.COMPLETED, 1, 1)
    assert "could not be saved" in run.metadata["report_error"]


def test_row_errors_are_recorded_live_bounded_and_all_in_the_report(tmp_path, monkeypatch):
    path = tmp_path / "many-bad.csv"
    bad = "".join(f"HGNC:x{n},S{n}\n" for n in range(300))
    path.write_text("hgnc_id,symbol\n" + bad + "".join(f"{n},G{n}\n" for n in range(1, 1501)))
    seen = []
    original = type(get_writer()).submit

    def spy(writer, job, *, wait):
        seen.append((job.fields.get("current_item"), job.fields.get("metadata", {})))
        return original(writer, job, wait=wait)

    monkeypatch.setattr(type(get_writer()), "submit", spy)
    result, run = tracked_import(path)
    # Failures were on the run while it ran, not only at the end.
    first_batch = [m for item, m in seen if item == BATCH_SIZE]
    assert first_batch and first_batch[0].get("row_errors_total") == 300
    assert (result.failed, run.metadata["row_errors_total"]) == (300, 300)
    assert len(run.metadata["row_errors"]) == 200
    with default_storage.open(report_name(run)) as handle:
        assert len(handle.read().decode().splitlines()) == 301


@pytest.mark.service
@pytest.mark.slow
def test_the_report_of_50000_bad_rows_is_bounded_and_the_run_counts_the_rest(tmp_path):
    from curation.gene_import import MAX_REPORT_ROWS

    path = tmp_path / "all-bad.csv"
    # 100 KB made a 4 MB report (the 200,000 rows made 16 MB).
    path.write_text("hgnc_id\n" + "x\n" * 50_000)
    result, run = tracked_import(path)
    assert (run.status, result.failed) == (Status.COMPLETED, 50_000)
    with default_storage.open(report_name(run)) as handle:
        report = handle.read()
    assert len(report) < 2 * 1024 * 1024
    lines = report.decode().splitlines()
    assert len(lines) == 1 + MAX_REPORT_ROWS
    more = 50_000 - MAX_REPORT_ROWS
    assert run.metadata["report_note"].startswith(f"{more} more rows failed; the report lists")


@pytest.mark.service
@pytest.mark.slow
def test_streaming_a_million_row_file_keeps_memory_flat(tmp_path):
    path = tmp_path / "million.csv"
    with path.open("w") as handle:
        handle.write("hgnc_id,symbol,location\n")
        for n in range(1, 1_000_001):
            handle.write(f"HGNC:{n},SYM{n},{n % 22 + 1}p{n % 30}.1\n")
    assert path.stat().st_size > 20 * 1024 * 1024
    tracemalloc.start()
    try:
        assert count_rows(path) == 1_000_000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The old parser held every row (about 600 MB here); streaming holds one batch at most.
    assert peak < 150 * 1024 * 1024
    assert peak < 20 * 1024 * 1024  # in practice: buffers, not rows


def test_a_blank_row_between_genes_is_skipped_and_the_counts_say_so(tmp_path):
    from curation.gene_import import blank_rows_text

    path = tmp_path / "blank.csv"
    # A row of empty cells and an empty line between genes; the file's trailing newlines
    # and a blank line above the header are layout, not rows.
    path.write_text("\nhgnc_id,symbol\n9008,PKD1\n,\n\n9009,PKD2\n\n")
    result, run = tracked_import(path)
    assert (result.added, result.failed, result.blank) == (2, 0, 2)
    assert (run.current_item, run.total_items, run.items_failed) == (4, 4, 0)
    assert run.metadata["blank_rows_skipped"] == 2
    assert run.metadata["summary"] == {"blank_rows_skipped": 2}  # the page: "Blank rows skipped: 2"
    assert blank_rows_text(2) == "2 blank rows skipped"
    assert blank_rows_text(1) == "1 blank row skipped"


def test_a_file_without_blank_rows_says_nothing_about_them(tmp_path):
    path = tmp_path / "tidy.csv"
    path.write_text("hgnc_id,symbol\n9008,PKD1\n")
    _result, run = tracked_import(path)
    assert "blank_rows_skipped" not in run.metadata and "summary" not in run.metadata


def test_an_upload_is_named_by_the_users_file_name_never_its_storage_name(tmp_path):
    from django.core.files.base import ContentFile

    from curation.gene_files import GeneFile
    from curation.gene_import import source_label
    from progress import files

    stored = default_storage.save("uploads/a176885deb0a.csv", ContentFile(b"hgnc_id\nHGNC:abc\n"))
    metadata: dict = {}
    files.record_file(metadata, name=stored, label="big.csv", kind=files.UPLOAD)
    scope = Scope.objects.create(name="uploaded")
    with track_operation("gene_import", metadata=metadata) as tracker:
        gene_import(path=GeneFile.stored(stored), scope=scope, tracker=tracker)
    flush()
    run = OperationProgress.objects.get(pk=tracker.id)
    assert source_label(GeneFile.stored(stored), run.metadata) == "big.csv"
    assert GeneFile.stored(stored).label == "a176885deb0a.csv"  # what the run said before
    assert files.run_files(run.metadata, files.REPORT)[0]["label"] == "big-row-errors.csv"


def test_failed_rows_give_one_bounded_warning_and_batches_no_line_each(tmp_path):
    from progress.models import OperationLogLine

    path = tmp_path / "mixed.csv"
    good = "".join(f"HGNC:{n},SYM{n}\n" for n in range(1, 2501))
    path.write_text("hgnc_id,symbol\n" + good + "x,BAD1\ny,BAD2\n" + "z,BAD\n" * 10)
    result, run = tracked_import(path)
    assert result.failed == 12
    lines = list(OperationLogLine.objects.filter(run=run).values_list("level", "message"))
    warnings = [message for level, message in lines if level == 30]
    assert len(warnings) == 1
    assert warnings[0].startswith("12 of 2512 rows failed: line ")
    assert warnings[0].count("line ") == 5 and warnings[0].endswith(
        "7 more in the row-error report"
    )
    assert not [m for _level, m in lines if m.startswith("Batch ")]  # 3 batches, no line each
