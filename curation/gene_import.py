"""Bulk gene import: validate rows, write them in atomic batches, report every bad row.

The file is streamed twice: once to check it whole and count its rows (a file that cannot
be parsed fails before anything is written), then to import. The atomic unit is the batch
(BATCH_SIZE rows): a batch is written completely or not at all, so a cancellation or a
crash leaves whole batches and counts that match them. A bad row never stops the valid
ones; it is counted in items_failed with its line and a reason a curator can act on, shown
live on the run (the first 200) and written to the run's report file (the first
MAX_REPORT_ROWS). The report keeps the row's own columns plus line and error, so a curator
can fix it and import it as it is.

Every row read is counted once: added + updated + unchanged + skipped + failed = rows. A
row is skipped when it is blank, or when it repeats an HGNC id earlier in its batch (the
two are merged into one write, counted once by what the write did).

Genes are shared: one row per HGNC id, listed by every scope that has it. An import that
may not change shared genes (a non-staff user's: curation/scope_access.py) leaves a gene
that another scope lists or curates as it is, and counts the rows it kept in
shared_kept (the run's summary says so). A row that changes a gene that existed before
counts as updated, even when it also adds the gene to the scope: a change to data other
scopes see is never hidden in "added".
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import IO, Any

from django.core.files import File
from django.db import reset_queries, transaction

from curation.gene_files import MAX_LIST_ENTRIES, GeneFile, RawRow, count_rows, gene_file, iter_rows
from curation.models import Gene, InvalidHgncId, Scope, ScopeGene, normalize_hgnc_id
from curation.scope_access import genes_shared_beyond
from progress import files, limits
from progress.tracker import Reporter

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
# A progress line in the run's log at most this often (not one per batch: a 200k-row
# import wrote 200 "Batch N" lines), and the failed rows named in its WARNING summary.
PROGRESS_LOG_SECONDS = 10.0
FAILURES_IN_SUMMARY = 5
# Row errors kept in memory for the caller (commands print some); more go to the report file.
MAX_ERRORS_KEPT = limits.MAX_FAILURES_KEPT
# Characters of a bad row's value kept in the report file.
MAX_REPORT_VALUE = 1000
# Row errors written to the report file; past it the run notes how many more. Bounds the
# report (a value is at most MAX_REPORT_VALUE characters): 200,000 bad two-byte rows once
# made 16 MB of report from a 400 KB upload.
MAX_REPORT_ROWS = 10_000
# The stored report's file name (its label, "<upload>-row-errors.csv", is what users see):
# a report is CSV, never .svg.
REPORT_NAME = "row-errors.csv"
REPORT_SUFFIX = "-row-errors.csv"
REPORT_STEM_CHARS = 80
# The report's columns: the gene columns as the importer reads them back, then line and error.
REPORT_GENE_COLUMNS = (
    "hgnc_id",
    "approved_symbol",
    "location",
    "chromosome",
    "previous_symbols",
    "alias_symbols",
)
REPORT_COLUMNS = (*REPORT_GENE_COLUMNS, "line", "error")
# Updated genes named in the run's metadata and log, with the fields that changed.
MAX_CHANGES_KEPT = 20
MAX_PANEL_CHARS = 200
GENE_FIELDS = ("approved_symbol", "location", "chromosome", "previous_symbols", "alias_symbols")
# A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SHARED_KEPT_TEXT = (
    "%d rows would change genes that other scopes list or curate; those genes were kept as "
    "they are (only staff, or the curation.use_any_scope permission, may change shared "
    "genes): ask staff to import the file"
)


@dataclass
class RowError:
    line: int
    value: str
    reason: str
    raw: RawRow | None = None  # the row as read, for the report's columns

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "value": self.value, "reason": self.reason}


@dataclass
class ImportResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    blank: int = 0  # entirely blank rows, skipped
    shared_kept: int = 0  # rows whose changes to genes other scopes share were not applied
    merged: int = 0  # rows repeating an HGNC id earlier in their batch, skipped (merged)
    errors: list[RowError] = field(default_factory=list)  # the first MAX_ERRORS_KEPT
    # What changed in updated genes, the first MAX_CHANGES_KEPT: {"hgnc_id", "changed"}.
    changes: list[dict[str, Any]] = field(default_factory=list)
    report: str = ""  # the report's storage name, when rows failed

    @property
    def skipped(self) -> int:
        return self.blank + self.merged

    def counts(self) -> dict[str, int]:
        """The run's counters (tracker.update keywords); they add up to the rows read."""
        return {
            "items_added": self.added,
            "items_updated": self.updated,
            "items_unchanged": self.unchanged,
            "items_skipped": self.skipped,
            "items_failed": self.failed,
        }

    def note_change(self, hgnc_id: str, changed: list[str]) -> None:
        self.updated += 1
        if len(self.changes) < MAX_CHANGES_KEPT:
            self.changes.append({"hgnc_id": hgnc_id, "changed": changed})

    def fail(self, error: RowError) -> None:
        self.failed += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(error)


@dataclass
class ValidRow:
    line: int
    hgnc_id: str
    raw: RawRow


class SymbolIndex:
    """Which HGNC id owns each approved symbol, from the database and the rows seen so far."""

    def __init__(self) -> None:
        self._owner: dict[str, str] = {}

    def load(self, symbols: Iterable[str]) -> None:
        # Only symbols a row could hold: a NUL or an overlong value would fail the query.
        limit = _max_length("approved_symbol")
        wanted = [
            s
            for s in {s.upper() for s in symbols if s and len(s) <= limit and _storable(s)}
            if s not in self._owner
        ]
        for symbol, hgnc_id in Gene.objects.filter(approved_symbol__in=wanted).values_list(
            "approved_symbol", "hgnc_id"
        ):
            self._owner.setdefault(symbol.upper(), hgnc_id)

    def owner(self, symbol: str) -> str | None:
        return self._owner.get(symbol.upper())

    def claim(self, symbol: str, hgnc_id: str) -> None:
        self._owner[symbol.upper()] = hgnc_id


def gene_import(
    *,
    path: Path | GeneFile,
    scope: Scope,
    tracker: Reporter,
    fmt: str = "auto",
    pace: float = 0.0,
    may_change_shared: bool = True,
) -> ImportResult:
    """Import a gene file into scope, reporting progress; returns the counts and row errors.

    may_change_shared: False keeps genes that other scopes list or curate as they are.
    """
    source = gene_file(path)
    label = source_label(source, tracker.metadata)
    tracker.update(operation=f"Checking {label}", force=True)
    total = count_rows(source, fmt)  # the whole file parses, or nothing is written
    tracker.update(current_item=0, total_items=total, operation=f"Importing {label}", force=True)
    result = ImportResult()
    with ErrorReport() as report:
        done = 0
        logged_at = time.monotonic()
        for batch in _chunks(iter_rows(source, fmt), BATCH_SIZE):
            # With DEBUG, Django logs every query until the next request; a task has none.
            reset_queries()
            tracker.raise_if_cancelled()
            valid = _validate_batch(batch, tracker, result, report, done=done, pace=pace)
            _write_batch(valid, scope, result, may_change_shared=may_change_shared)
            done += len(batch)
            if time.monotonic() - logged_at >= PROGRESS_LOG_SECONDS:
                logged_at = time.monotonic()
                logger.info("%d of %d rows read, %d failed so far", done, total, result.failed)
            _report_counts(tracker, result, done=done)
        result.report = report.save(tracker, report_label(label))
    _record_outcome(tracker, result, label, report)
    counts = f"{result.added} added, {result.updated} updated, {result.unchanged} unchanged, "
    counts += f"{result.skipped} skipped, {result.failed} failed"
    if result.blank:
        counts += f", {blank_rows_text(result.blank)}"
    logger.info("Imported %s: %s", label, counts)
    if result.changes:
        logger.info(changes_summary(result))
    if result.failed:
        logger.warning(failure_summary(result, total=done))
    if result.shared_kept:
        logger.warning(SHARED_KEPT_TEXT, result.shared_kept)
    _report_counts(tracker, result, done=done, force=True)
    return result


def _report_counts(
    tracker: Reporter, result: ImportResult, *, done: int, force: bool = False
) -> None:
    """The rows read so far and what became of them, on the run."""
    tracker.update(
        current_item=done,
        items_added=result.added,
        items_updated=result.updated,
        items_unchanged=result.unchanged,
        items_skipped=result.skipped,
        items_failed=result.failed,
        force=force,
    )


def report_label(label: str) -> str:
    """The report's name for an upload: "broken_panel.csv" -> "broken_panel-row-errors.csv"."""
    # The stem is cut, never the suffix: a run's file labels are at most 100 characters.
    return limits.truncate(PurePath(label).stem, REPORT_STEM_CHARS) + REPORT_SUFFIX


def changes_summary(result: ImportResult) -> str:
    """One bounded INFO line: which genes an import updated, and what changed in each."""
    named = "; ".join(f"{c['hgnc_id']} ({', '.join(c['changed'])})" for c in result.changes)
    rest = result.updated - len(result.changes)
    return f"Updated {result.updated}: {named}" + (f"; and {rest} more" if rest > 0 else "")


def failure_summary(result: ImportResult, *, total: int) -> str:
    """One bounded WARNING line: how many rows failed, the first few, where the rest are."""
    named = "; ".join(
        f"line {e.line}: {e.reason[:120]}" for e in result.errors[:FAILURES_IN_SUMMARY]
    )
    rest = result.failed - min(len(result.errors), FAILURES_IN_SUMMARY)
    more = f"; and {rest} more in the row-error report" if rest > 0 else ""
    return f"{result.failed} of {total} rows failed: {named}{more}"


def source_label(source: GeneFile, metadata: dict[str, Any]) -> str:
    """The user's name for the file: an upload's label as the run recorded it, not the
    random name it is stored under; a local file's own name."""
    if source.storage_name:
        for entry in files.run_files(metadata, files.UPLOAD):
            if entry["name"] == source.storage_name and entry.get("label"):
                return str(entry["label"])
    return source.label


def blank_rows_text(count: int) -> str:
    """The counts' note: "1 blank row skipped", "3 blank rows skipped"."""
    return f"{count:,} blank row{'' if count == 1 else 's'} skipped"


def _validate_batch(
    batch: list[RawRow],
    tracker: Reporter,
    result: ImportResult,
    report: ErrorReport,
    *,
    done: int,
    pace: float,
) -> list[ValidRow]:
    """The batch's valid rows; each bad one is recorded on the run and in the report."""
    # Per batch: earlier batches are in the database by now, so memory stays flat.
    symbols = SymbolIndex()
    symbols.load(r.symbol for r in batch)
    valid = []
    for offset, raw in enumerate(batch, start=1):
        tracker.raise_if_cancelled()  # per row: a batch cut short is never written
        checked = None if raw.blank else _validate(raw, symbols)
        if checked is None:
            result.blank += 1
        elif isinstance(checked, RowError):
            checked.raw = raw
            result.fail(checked)
            report.add(checked)
            tracker.record_failure(line=checked.line, value=checked.value, reason=checked.reason)
        else:
            valid.append(checked)
        if pace:
            time.sleep(pace)  # demo only: slows the run so a person can watch it
            tracker.update(current_item=done + offset)
    return valid


def _validate(raw: RawRow, symbols: SymbolIndex) -> ValidRow | RowError:
    """Check one row; a RowError says what is wrong and what to do about it."""
    problem = raw.problem or _shape_problem(raw)
    if problem:
        return RowError(raw.line, _display(raw), problem)
    if not raw.hgnc_id and not raw.symbol:
        return RowError(
            raw.line, _display(raw), "Row has neither an HGNC id nor a symbol; add at least one"
        )
    if raw.hgnc_id:
        try:
            hgnc_id = normalize_hgnc_id(raw.hgnc_id)
        except InvalidHgncId as exc:
            return RowError(raw.line, _display(raw), str(exc))
    else:
        owner = symbols.owner(raw.symbol)
        if owner is None:
            return RowError(
                raw.line,
                _display(raw),
                f"No HGNC id, and symbol {raw.symbol!r} matches no known gene; add its HGNC id",
            )
        hgnc_id = owner
    if raw.symbol:
        owner = symbols.owner(raw.symbol)
        if owner is not None and owner != hgnc_id:
            return RowError(
                raw.line,
                _display(raw),
                f"Symbol {raw.symbol!r} already belongs to {owner}, not {hgnc_id}; "
                "check the id or the symbol",
            )
        symbols.claim(raw.symbol, hgnc_id)
    return ValidRow(raw.line, hgnc_id, raw)


@transaction.atomic
def _write_batch(
    rows: list[ValidRow], scope: Scope, result: ImportResult, *, may_change_shared: bool
) -> None:
    """Write one batch in one transaction: new genes, changed genes, scope membership."""
    merged = _merge_duplicates(rows)
    result.merged += len(rows) - len(merged)
    existing = Gene.objects.in_bulk(list(merged), field_name="hgnc_id")
    shared = (
        set()
        if may_change_shared
        else genes_shared_beyond(scope, [gene.pk for gene in existing.values()])
    )
    new_genes, changed = [], []
    changed_fields: dict[int, list[str]] = {}
    for hgnc_id, raw in merged.items():
        gene = existing.get(hgnc_id)
        if gene is None:
            new_genes.append(Gene(hgnc_id=hgnc_id, **_gene_values(raw, None)))
        elif gene.pk in shared:
            if _differs(gene, _gene_values(raw, gene)):
                result.shared_kept += 1
        elif names := _apply(gene, _gene_values(raw, gene)):
            changed.append(gene)
            changed_fields[gene.pk] = names
    Gene.objects.bulk_create(new_genes)
    Gene.objects.bulk_update(changed, [*GENE_FIELDS, "updated_at"])
    genes = Gene.objects.in_bulk(list(merged), field_name="hgnc_id")
    memberships = {
        m.gene_id: m for m in ScopeGene.objects.filter(scope=scope, gene__hgnc_id__in=list(merged))
    }
    to_create, to_update = [], []
    for hgnc_id, raw in merged.items():
        gene = genes[hgnc_id]
        membership = memberships.get(gene.pk)
        if membership is None:
            to_create.append(ScopeGene(scope=scope, gene=gene, panels=sorted(set(raw.panels))))
            if gene.pk in changed_fields:
                # An existing gene changed: every scope listing it sees it, so not "added".
                result.note_change(hgnc_id, changed_fields[gene.pk])
            else:
                result.added += 1
            continue
        panels = sorted(set(membership.panels) | set(raw.panels))
        panels_changed = panels != membership.panels
        if panels_changed:
            membership.panels = panels
            to_update.append(membership)
        what = changed_fields.get(gene.pk, []) + (["panels"] if panels_changed else [])
        if what:
            result.note_change(hgnc_id, what)
        else:
            result.unchanged += 1
    ScopeGene.objects.bulk_create(to_create)
    ScopeGene.objects.bulk_update(to_update, ["panels"])


def _merge_duplicates(rows: list[ValidRow]) -> dict[str, RawRow]:
    """One row per HGNC id; a later row's values win, panels accumulate."""
    merged: dict[str, RawRow] = {}
    for row in rows:
        previous = merged.get(row.hgnc_id)
        if previous is not None:
            row.raw.panels = [*previous.panels, *row.raw.panels]
        merged[row.hgnc_id] = row.raw
    return merged


def _gene_values(raw: RawRow, gene: Gene | None) -> dict[str, Any]:
    """The gene's fields after this row; blanks in the file keep what is stored."""
    current = {name: getattr(gene, name) for name in GENE_FIELDS} if gene is not None else {}
    symbol = raw.symbol or current.get("approved_symbol", "")
    previous = list(current.get("previous_symbols", []))
    old_symbol = current.get("approved_symbol")
    if old_symbol and old_symbol != symbol and old_symbol not in previous:
        previous.append(old_symbol)  # HGNC renamed it: keep the old symbol findable
    for value in raw.previous_symbols:
        if value not in previous:
            previous.append(value)
    aliases = list(dict.fromkeys([*current.get("alias_symbols", []), *raw.alias_symbols]))
    location = raw.location or current.get("location", "")
    return {
        "approved_symbol": symbol,
        "location": location,
        "chromosome": raw.chromosome or current.get("chromosome", "") or _chromosome(location),
        "previous_symbols": previous,
        "alias_symbols": aliases,
    }


def _chromosome(location: str) -> str:
    """'16p13.3' -> '16', 'Xq22.3' -> 'X'; "" when the location names none that fits."""
    chromosome = location if location in {"X", "Y", "MT"} or location.isdigit() else ""
    for index, char in enumerate(location):
        if char in "pq" or char == " ":
            chromosome = location[:index]
            break
    return chromosome if len(chromosome) <= _max_length("chromosome") else ""


def _differs(gene: Gene, values: dict[str, Any]) -> bool:
    return any(getattr(gene, name) != value for name, value in values.items())


def _apply(gene: Gene, values: dict[str, Any]) -> list[str]:
    """Set values on gene; the names of the fields that changed."""
    changed = []
    for name, value in values.items():
        if getattr(gene, name) != value:
            setattr(gene, name, value)
            changed.append(name)
    return changed


def _shape_problem(raw: RawRow) -> str:
    """Why the row's values cannot be stored (bad text, too long for a column), or ""."""
    texts = [raw.hgnc_id, raw.symbol, raw.location, raw.chromosome]
    lists = {
        "previous symbols": raw.previous_symbols,
        "alias symbols": raw.alias_symbols,
        "panels": raw.panels,
    }
    if not all(_storable(t) for t in [*texts, *(v for vs in lists.values() for v in vs)]):
        return "The row holds a NUL character or invalid Unicode; save the file as UTF-8 text"
    for label, value, limit in (
        ("Symbol", raw.symbol, _max_length("approved_symbol")),
        ("Location", raw.location, _max_length("location")),
        ("Chromosome", raw.chromosome, _max_length("chromosome")),
    ):
        if len(value) > limit:
            return f"{label} is {len(value)} characters long; the limit is {limit}"
    for label, values in lists.items():
        limit = MAX_PANEL_CHARS if label == "panels" else _max_length("approved_symbol")
        if len(values) > MAX_LIST_ENTRIES:
            return f"{len(values)} {label}; the limit is {MAX_LIST_ENTRIES}"
        if any(len(v) > limit for v in values):
            return f"One of the {label} is longer than {limit} characters; shorten it"
    return ""


def _storable(text: str) -> bool:
    """PostgreSQL refuses NUL in text and JSON; UTF-8 cannot encode lone surrogates."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _max_length(name: str) -> int:
    return int(getattr(Gene._meta.get_field(name), "max_length", None) or 0)


def _display(raw: RawRow) -> str:
    """The row for error tables: storable text, bounded."""
    text = raw.display.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    return limits.truncate(text, MAX_REPORT_VALUE)


class ErrorReport:
    """Every row error as CSV, written to a temporary file as it happens, saved once at the end."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self._text: io.TextIOWrapper | None = None
        self._writer: Any = None
        self.rows = 0
        self.error = ""

    def __enter__(self) -> ErrorReport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._file is not None:
            self._file.close()

    def add(self, error: RowError) -> None:
        if self._writer is None:
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed in __exit__)
            self._text = io.TextIOWrapper(self._file, encoding="utf-8", newline="")
            self._writer = csv.writer(self._text)
            self._writer.writerow(REPORT_COLUMNS)
        self.rows += 1
        if self.rows <= MAX_REPORT_ROWS:
            self._writer.writerow([*_report_cells(error), error.line, _cell(error.reason)])

    def save(self, tracker: Reporter, label: str) -> str:
        """Attach the report to the run (if any row failed); its storage name, "" if none.

        Rows are committed by now: a storage failure is noted on the run, never raised.
        """
        if self._file is None or self._text is None:
            return ""
        try:
            if self.rows > MAX_REPORT_ROWS:
                # On the run, not in the file: a note row would fail when the file is re-imported.
                more = self.rows - MAX_REPORT_ROWS
                tracker.metadata["report_note"] = (
                    f"{more} more rows failed; the report lists the first {MAX_REPORT_ROWS}. "
                    "Fix these and import the file again."
                )
            self._text.flush()
            self._file.seek(0)
            # Stored as .csv whatever the upload was called (its name is only the label).
            report = File(self._file, name=REPORT_NAME)
            return tracker.attach_file(label, report, kind=files.REPORT)
        except Exception as exc:
            logger.exception("Could not save the row-error report of run %s", tracker.id)
            self.error = f"The row-error report could not be saved ({type(exc).__name__})"
            return ""


def _report_cells(error: RowError) -> list[str]:
    """The failed row's gene columns as the importer reads them; the shown value without a row."""
    raw = error.raw
    if raw is None:
        return [_cell(error.value), *[""] * (len(REPORT_GENE_COLUMNS) - 1)]
    values = [
        raw.hgnc_id,
        raw.symbol,
        raw.location,
        raw.chromosome,
        "|".join(raw.previous_symbols),
        "|".join(raw.alias_symbols),
    ]
    return [_cell(limits.truncate(v, MAX_REPORT_VALUE)) for v in values]


def _cell(value: object) -> str:
    """A report cell a spreadsheet shows as text, never runs as a formula."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _record_outcome(
    tracker: Reporter, result: ImportResult, label: str, report: ErrorReport
) -> None:
    """What the counts do not say: why rows were skipped, what changed, a report that failed."""
    if result.changes:
        tracker.metadata["updated_genes"] = result.changes
    if result.merged:
        tracker.metadata["duplicate_rows_merged"] = result.merged
    if result.blank:
        # In the summary, so the run's page says it beside the counts.
        tracker.metadata["blank_rows_skipped"] = result.blank
        summary = tracker.metadata.get("summary")
        summary = dict(summary) if isinstance(summary, dict) else {}
        summary["blank_rows_skipped"] = result.blank  # "Blank rows skipped: 1"
        tracker.metadata["summary"] = summary
    if result.shared_kept:
        summary = tracker.metadata.get("summary")
        summary = dict(summary) if isinstance(summary, dict) else {}
        summary["shared_genes_kept"] = result.shared_kept  # "Shared genes kept: 1"
        tracker.metadata["summary"] = summary
    if report.error:
        tracker.metadata["report_error"] = report.error


def _chunks(rows: Iterable[RawRow], size: int) -> Iterator[list[RawRow]]:
    batch: list[RawRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
