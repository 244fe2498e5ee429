"""Reading gene lists (panel JSON, CSV, TSV) into rows, before anything is written.

A file is parsed completely first: a file that cannot be parsed fails the import
before a single row is written. Per-row problems (a bad id, a missing symbol) are
left to the importer, which counts them as failed and keeps going.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMATS = ("auto", "csv", "tsv", "json")
MAX_FILE_BYTES = 100 * 1024 * 1024

# Header spellings seen in real files, normalised (lower case, no spaces/dashes/underscores).
ID_HEADERS = {"hgncid", "hgnc", "hgncidentifier"}
SYMBOL_HEADERS = {"approvedsymbol", "symbol", "genesymbol", "gene", "hgncsymbol"}
LOCATION_HEADERS = {"location", "chromosomelocation", "cytoband", "locationsortable"}
CHROMOSOME_HEADERS = {"chromosome", "chr", "chrom"}
PREVIOUS_HEADERS = {"previoussymbols", "prevsymbol", "previoussymbol"}
ALIAS_HEADERS = {"aliassymbols", "aliassymbol", "aliases", "synonyms"}
# Without a header, columns are HGNC_ID, SYMBOL[, LOCATION].
HEADERLESS_COLUMNS = ("hgnc_id", "symbol", "location")


class UnparseableFile(ValueError):
    """The file as a whole cannot be read; nothing from it is imported."""


@dataclass
class RawRow:
    """One gene row as the file gives it (values not yet validated)."""

    line: int
    hgnc_id: str = ""
    symbol: str = ""
    location: str = ""
    chromosome: str = ""
    previous_symbols: list[str] = field(default_factory=list)
    alias_symbols: list[str] = field(default_factory=list)
    panels: list[str] = field(default_factory=list)

    @property
    def display(self) -> str:
        """The row as a curator would recognise it in an error table."""
        return ", ".join(v for v in (self.hgnc_id, self.symbol, self.location) if v) or "(empty)"


def read_rows(path: Path, fmt: str = "auto") -> list[RawRow]:
    """Parse the whole file; raise UnparseableFile with a reason a curator can act on."""
    if fmt not in FORMATS:
        raise UnparseableFile(f"Unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UnparseableFile(f"{path.name} is {size} bytes; the limit is {MAX_FILE_BYTES}")
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise UnparseableFile(f"{path} does not exist") from None
    except UnicodeDecodeError as exc:
        raise UnparseableFile(
            f"{path.name} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    return parse_text(text, detect_format(path, text) if fmt == "auto" else fmt)


def detect_format(path: Path, text: str) -> str:
    """json, tsv or csv from the extension, else from the content."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix in {"json", "tsv", "csv"}:
        return suffix
    if suffix == "txt":
        return "tsv"
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return "json"
    first_line = stripped.splitlines()[0] if stripped else ""
    return "tsv" if "\t" in first_line else "csv"


def parse_text(text: str, fmt: str) -> list[RawRow]:
    if not text.strip():
        raise UnparseableFile("The file is empty; it needs at least one gene row")
    if fmt == "json":
        return parse_json(text)
    return parse_delimited(text, "\t" if fmt == "tsv" else ",")


def parse_json(text: str) -> list[RawRow]:
    """Panel JSON ({"genes": [...]}) or a plain list of gene objects."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnparseableFile(
            f"Invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    genes = document.get("genes") if isinstance(document, dict) else document
    if not isinstance(genes, list):
        raise UnparseableFile('JSON must be a list of genes or an object with a "genes" list')
    return [_json_row(number, item) for number, item in enumerate(genes, start=1)]


def _json_row(number: int, item: Any) -> RawRow:
    if not isinstance(item, dict):
        return RawRow(line=number)  # fails validation: neither id nor symbol
    panels = item.get("panels") or []
    return RawRow(
        line=number,
        hgnc_id=_text(item.get("hgnc_id")),
        symbol=_text(item.get("approved_symbol") or item.get("symbol")),
        location=_text(item.get("location")),
        chromosome=_text(item.get("chromosome")),
        previous_symbols=_symbols(item.get("previous_symbols")),
        alias_symbols=_symbols(item.get("alias_symbols")),
        panels=[str(p) for p in panels] if isinstance(panels, list) else [str(panels)],
    )


def parse_delimited(text: str, delimiter: str) -> list[RawRow]:
    """CSV/TSV with a header naming the columns, or headerless HGNC_ID, SYMBOL[, LOCATION]."""
    try:
        cells = list(csv.reader(io.StringIO(text), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise UnparseableFile(f"Cannot read the file as {_kind(delimiter)}: {exc}") from None
    records = [(n, r) for n, r in enumerate(cells, start=1) if any(c.strip() for c in r)]
    if not records:
        raise UnparseableFile("The file has no rows")
    columns = _header_columns(records[0][1])
    if columns is None:
        columns = dict(enumerate(HEADERLESS_COLUMNS))
        body = records
    else:
        body = records[1:]
        if "hgnc_id" not in columns.values() and "symbol" not in columns.values():
            raise UnparseableFile(
                f"The header {delimiter.join(records[0][1])!r} names no hgnc_id or symbol column; "
                "name one of them (e.g. hgnc_id,approved_symbol)"
            )
    return [_delimited_row(number, record, columns) for number, record in body]


def _header_columns(cells: list[str]) -> dict[int, str] | None:
    """Map column index -> field if the row is a header, else None."""
    known = {
        **dict.fromkeys(ID_HEADERS, "hgnc_id"),
        **dict.fromkeys(SYMBOL_HEADERS, "symbol"),
        **dict.fromkeys(LOCATION_HEADERS, "location"),
        **dict.fromkeys(CHROMOSOME_HEADERS, "chromosome"),
        **dict.fromkeys(PREVIOUS_HEADERS, "previous_symbols"),
        **dict.fromkeys(ALIAS_HEADERS, "alias_symbols"),
    }
    mapped = {i: known[_normalise(c)] for i, c in enumerate(cells) if _normalise(c) in known}
    return mapped or None


def _delimited_row(number: int, record: list[str], columns: dict[int, str]) -> RawRow:
    row = RawRow(line=number)
    for index, name in columns.items():
        value = record[index].strip() if index < len(record) else ""
        if name in {"previous_symbols", "alias_symbols"}:
            setattr(row, name, _symbols(value))
        else:
            setattr(row, name, value)
    return row


def _normalise(header: str) -> str:
    return "".join(ch for ch in header.lower() if ch.isalnum())


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _symbols(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    text = _text(value).replace("|", ",")
    return [part.strip() for part in text.split(",") if part.strip()]


def _kind(delimiter: str) -> str:
    return "TSV" if delimiter == "\t" else "CSV"
