"""Bulk gene import: validate rows, write them in atomic batches, report every bad row.

The atomic unit is the batch (BATCH_SIZE rows): a batch is written completely or not at
all, so a cancellation or a crash leaves whole batches and counts that match them. A
file that cannot be parsed fails before anything is written. A bad row never stops the
valid ones; it is counted in items_failed with its line and a reason a curator can act on.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from curation.gene_files import RawRow, read_rows
from curation.models import Gene, InvalidHgncId, Scope, ScopeGene, normalize_hgnc_id
from progress.tracker import Reporter

BATCH_SIZE = 1000
# Row errors kept on the run's record (all of them go to the report file).
MAX_ERRORS_IN_METADATA = 200
GENE_FIELDS = ("approved_symbol", "location", "chromosome", "previous_symbols", "alias_symbols")


@dataclass
class RowError:
    line: int
    value: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "value": self.value, "reason": self.reason}


@dataclass
class ImportResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.errors)


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
        wanted = [s for s in {s.upper() for s in symbols if s} if s not in self._owner]
        for symbol, hgnc_id in Gene.objects.filter(approved_symbol__in=wanted).values_list(
            "approved_symbol", "hgnc_id"
        ):
            self._owner.setdefault(symbol.upper(), hgnc_id)

    def owner(self, symbol: str) -> str | None:
        return self._owner.get(symbol.upper())

    def claim(self, symbol: str, hgnc_id: str) -> None:
        self._owner[symbol.upper()] = hgnc_id


def gene_import(
    *, path: Path, scope: Scope, tracker: Reporter, fmt: str = "auto", pace: float = 0.0
) -> ImportResult:
    """Import a gene file into scope, reporting progress; returns the counts and row errors."""
    tracker.update(operation=f"Reading {path.name}", force=True)
    rows = read_rows(path, fmt)
    tracker.update(
        current_item=0, total_items=len(rows), operation=f"Importing {path.name}", force=True
    )
    result = ImportResult()
    symbols = SymbolIndex()
    done = 0
    for batch in _chunks(rows, BATCH_SIZE):
        tracker.raise_if_cancelled()
        symbols.load(r.symbol for r in batch)
        valid = []
        for offset, raw in enumerate(batch, start=1):
            checked = _validate(raw, symbols)
            if isinstance(checked, RowError):
                result.errors.append(checked)
            else:
                valid.append(checked)
            if pace:
                time.sleep(pace)  # demo only: slows the run so a person can watch it
                tracker.raise_if_cancelled()
                tracker.update(current_item=done + offset)
        _write_batch(valid, scope, result)
        done += len(batch)
        tracker.update(
            current_item=done,
            items_added=result.added,
            items_updated=result.updated,
            items_failed=result.failed,
        )
    _record_errors(tracker, result, path)
    tracker.update(current_item=done, items_failed=result.failed, force=True)
    return result


def _validate(raw: RawRow, symbols: SymbolIndex) -> ValidRow | RowError:
    """Check one row; a RowError says what is wrong and what to do about it."""
    if not raw.hgnc_id and not raw.symbol:
        return RowError(
            raw.line, raw.display, "Row has neither an HGNC id nor a symbol; add at least one"
        )
    if raw.hgnc_id:
        try:
            hgnc_id = normalize_hgnc_id(raw.hgnc_id)
        except InvalidHgncId as exc:
            return RowError(raw.line, raw.display, str(exc))
    else:
        owner = symbols.owner(raw.symbol)
        if owner is None:
            return RowError(
                raw.line,
                raw.display,
                f"No HGNC id, and symbol {raw.symbol!r} matches no known gene; add its HGNC id",
            )
        hgnc_id = owner
    if raw.symbol:
        owner = symbols.owner(raw.symbol)
        if owner is not None and owner != hgnc_id:
            return RowError(
                raw.line,
                raw.display,
                f"Symbol {raw.symbol!r} already belongs to {owner}, not {hgnc_id}; "
                "check the id or the symbol",
            )
        symbols.claim(raw.symbol, hgnc_id)
    return ValidRow(raw.line, hgnc_id, raw)


@transaction.atomic
def _write_batch(rows: list[ValidRow], scope: Scope, result: ImportResult) -> None:
    """Write one batch in one transaction: new genes, changed genes, scope membership."""
    merged = _merge_duplicates(rows)
    existing = Gene.objects.in_bulk(list(merged), field_name="hgnc_id")
    new_genes, changed = [], []
    for hgnc_id, raw in merged.items():
        gene = existing.get(hgnc_id)
        if gene is None:
            new_genes.append(Gene(hgnc_id=hgnc_id, **_gene_values(raw, None)))
        elif _apply(gene, _gene_values(raw, gene)):
            changed.append(gene)
    Gene.objects.bulk_create(new_genes)
    Gene.objects.bulk_update(changed, [*GENE_FIELDS, "updated_at"])
    genes = Gene.objects.in_bulk(list(merged), field_name="hgnc_id")
    memberships = {
        m.gene_id: m for m in ScopeGene.objects.filter(scope=scope, gene__hgnc_id__in=list(merged))
    }
    changed_ids = {g.pk for g in changed}
    to_create, to_update = [], []
    for hgnc_id, raw in merged.items():
        gene = genes[hgnc_id]
        membership = memberships.get(gene.pk)
        if membership is None:
            to_create.append(ScopeGene(scope=scope, gene=gene, panels=sorted(set(raw.panels))))
            result.added += 1
            continue
        panels = sorted(set(membership.panels) | set(raw.panels))
        panels_changed = panels != membership.panels
        if panels_changed:
            membership.panels = panels
            to_update.append(membership)
        if panels_changed or gene.pk in changed_ids:
            result.updated += 1
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
    """'16p13.3' -> '16', 'Xq22.3' -> 'X'."""
    for index, char in enumerate(location):
        if char in "pq" or char == " ":
            return location[:index]
    return location if location in {"X", "Y", "MT"} or location.isdigit() else ""


def _apply(gene: Gene, values: dict[str, Any]) -> bool:
    """Set values on gene; True if anything changed."""
    changed = False
    for name, value in values.items():
        if getattr(gene, name) != value:
            setattr(gene, name, value)
            changed = True
    return changed


def _record_errors(tracker: Reporter, result: ImportResult, path: Path) -> None:
    """Keep the first row errors on the run and write them all to a CSV report."""
    tracker.metadata["row_errors"] = [e.as_dict() for e in result.errors[:MAX_ERRORS_IN_METADATA]]
    tracker.metadata["row_errors_total"] = result.failed
    tracker.metadata["items_unchanged"] = result.unchanged
    if not result.errors:
        return
    report = (
        Path(settings.BASE_DIR) / "var" / "reports" / f"import-{tracker.id}-{path.stem}-errors.csv"
    )
    report.parent.mkdir(parents=True, exist_ok=True)
    with report.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "value", "reason"])
        writer.writerows((e.line, e.value, e.reason) for e in result.errors)
    tracker.metadata["report_path"] = str(report)
    tracker.metadata["source_file"] = path.name


def _chunks(rows: list[RawRow], size: int) -> Iterable[list[RawRow]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
