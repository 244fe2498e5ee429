"""Reading gene lists (panel JSON, CSV, TSV) as a stream of rows, within fixed limits.

Nothing is held whole: rows are parsed as they are read, so memory does not grow with the
file. The importer reads a file twice: count_rows() checks the whole file first, so a file
that cannot be parsed fails before a single row is written; the second pass imports. A
request only checks a prefix (check_prefix) and leaves the rest to the task. Per-row
problems (a bad id, a missing symbol) are left to the importer, which counts them as
failed and keeps going.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import IO, Any

import ijson
from django.core.files.storage import Storage

from progress import files

FORMATS = ("auto", "csv", "tsv", "json")
# Rows in one file. HGNC holds about 45,000 genes; a million leaves room for repeats.
MAX_ROWS = 1_000_000
# Characters in one row (a CSV/TSV record, or one JSON gene). Gene rows are well under 1,000;
# the bound keeps a hostile row's memory small.
MAX_ROW_CHARS = 64 * 1024
# Nesting of JSON containers: {"genes": [{"panels": [...]}]} is 4 deep.
MAX_JSON_DEPTH = 6
# Digits in a row in JSON: yajl mishandles integers Python refuses to convert (over 4,300
# digits), so long runs are refused before the parser sees them.
MAX_JSON_DIGITS = 100
# Entries kept of a JSON list value (panels, symbols); more make the row fail.
MAX_LIST_ENTRIES = 1_000
# Rows a request parses before accepting an upload; the task checks the whole file.
PREFIX_ROWS = 1_000
HEAD_BYTES = 4096
BOM = codecs.BOM_UTF8
DIGITS = b"0123456789"
LONG_NUMBER = re.compile(rb"[0-9]{%d}" % (MAX_JSON_DIGITS + 1))

# Header spellings seen in real files, normalised (lower case, no spaces/dashes/underscores).
ID_HEADERS = {"hgncid", "hgnc", "hgncidentifier"}
SYMBOL_HEADERS = {"approvedsymbol", "symbol", "genesymbol", "gene", "hgncsymbol"}
LOCATION_HEADERS = {"location", "chromosomelocation", "cytoband", "locationsortable"}
CHROMOSOME_HEADERS = {"chromosome", "chr", "chrom"}
PREVIOUS_HEADERS = {"previoussymbols", "prevsymbol", "previoussymbol"}
ALIAS_HEADERS = {"aliassymbols", "aliassymbol", "aliases", "synonyms"}
# Without a header, columns are HGNC_ID, SYMBOL[, LOCATION].
HEADERLESS_COLUMNS = ("hgnc_id", "symbol", "location")
# A headerless file none of whose first this many rows starts with an HGNC id is not a gene
# list (prose notes, another table): it is refused rather than imported as failed rows.
HEADERLESS_PROBE_ROWS = 50
# What may start a headerless gene row: an HGNC id as normalize_hgnc_id accepts it.
LOOKS_LIKE_HGNC_ID = re.compile(r"\s*(hgnc:)?\s*\d+\s*", re.IGNORECASE)
# JSON keys read from a gene object; any other key is skipped without being built.
JSON_TEXT_KEYS = {"hgnc_id", "approved_symbol", "symbol", "location", "chromosome"}
JSON_LIST_KEYS = {"previous_symbols", "alias_symbols", "panels"}
SHAPES = {"start_map": "an object", "start_array": "a list"}


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
    # Set by the parser when the row's shape is wrong (e.g. a JSON list where text belongs).
    problem: str = ""
    # An entirely blank row between others: counted and skipped, neither imported nor failed.
    blank: bool = False

    @property
    def display(self) -> str:
        """The row as a curator would recognise it in an error table."""
        return ", ".join(v for v in (self.hgnc_id, self.symbol, self.location) if v) or "(empty)"


@dataclass(frozen=True)
class GeneFile:
    """A gene file that can be opened more than once: a local path or a name in a storage."""

    label: str
    opener: Callable[[], IO[bytes]]
    # The name in the storage, for a stored file: the run's metadata names its upload by it.
    storage_name: str = ""

    @classmethod
    def local(cls, path: Path) -> GeneFile:
        """A file on this machine (management commands, scope sources)."""
        return cls(label=path.name, opener=lambda: _open_local(path))

    @classmethod
    def stored(cls, name: str, storage: Storage | None = None) -> GeneFile:
        """A file in the storage (uploads), readable from any worker machine."""
        chosen = storage or files.storage()
        return cls(
            label=PurePath(name).name,
            opener=lambda: _open_stored(chosen, name),
            storage_name=name,
        )


def gene_file(source: Path | GeneFile) -> GeneFile:
    return source if isinstance(source, GeneFile) else GeneFile.local(Path(source))


def iter_rows(source: Path | GeneFile, fmt: str = "auto") -> Iterator[RawRow]:
    """Every row in file order; raises UnparseableFile as soon as the file proves unreadable."""
    file = gene_file(source)
    with file.opener() as stream:
        yield from parse_stream(stream, name=file.label, fmt=fmt)


def count_rows(source: Path | GeneFile, fmt: str = "auto") -> int:
    """Read the whole file once without keeping it: its row count, or UnparseableFile."""
    return sum(1 for _ in iter_rows(source, fmt))


def read_rows(source: Path | GeneFile, fmt: str = "auto") -> list[RawRow]:
    """All rows as a list: for small files only (tests, tools); imports stream."""
    return list(iter_rows(source, fmt))


def check_prefix(stream: IO[bytes], *, name: str, fmt: str = "auto") -> None:
    """Parse the first PREFIX_ROWS rows (all of a small file): cheap enough for a request."""
    for count, _row in enumerate(parse_stream(stream, name=name, fmt=fmt), start=1):
        if count >= PREFIX_ROWS:
            return


def parse_stream(stream: IO[bytes], *, name: str, fmt: str = "auto") -> Iterator[RawRow]:
    """Rows from an open binary stream, in the given format or one detected from name/content."""
    if fmt not in FORMATS:
        raise UnparseableFile(f"Unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    head = stream.read(HEAD_BYTES)
    if head.startswith(BOM):
        head = head[len(BOM) :]
    if not head.strip() and len(head) < HEAD_BYTES - len(BOM):
        raise UnparseableFile("The file is empty; it needs at least one gene row")
    reader = _Utf8Reader(head, stream)
    kind = detect_format(name, head) if fmt == "auto" else fmt
    rows = _json_rows(reader) if kind == "json" else _delimited_rows(reader, kind)
    for count, row in enumerate(rows, start=1):
        if count > MAX_ROWS:
            raise UnparseableFile(
                f"The file has more than {MAX_ROWS:,} rows; split it into files of at most "
                f"{MAX_ROWS:,} rows"
            )
        yield row


def detect_format(name: str, head: bytes) -> str:
    """json, tsv or csv from the file name's extension, else from the first bytes."""
    suffix = PurePath(name).suffix.lower().lstrip(".")
    if suffix in {"json", "tsv", "csv"}:
        return suffix
    if suffix == "txt":
        return "tsv"
    stripped = head.lstrip()
    if stripped.startswith((b"{", b"[")):
        return "json"
    first_line = stripped.split(b"\n", 1)[0]
    return "tsv" if b"\t" in first_line else "csv"


class _Utf8Reader(io.RawIOBase):
    """The head already read, then the rest of the stream; fails on bytes that are not UTF-8."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._offset = 0
        self.failure: UnparseableFile | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = len(buffer)
        if self._head:
            data, self._head = self._head[:size], self._head[size:]
        else:
            data = self._rest.read(size)
        try:
            self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            self.failure = UnparseableFile(
                f"The file is not UTF-8 text ({exc.reason} at byte {self._offset + exc.start}); "
                "save it as UTF-8"
            )
            raise self.failure from None
        self._offset += len(data)
        buffer[: len(data)] = data
        return len(data)


# --- CSV / TSV -------------------------------------------------------------------------


class _Lines:
    """Physical lines for the csv module, refusing a row longer than MAX_ROW_CHARS."""

    def __init__(self, text: io.TextIOBase) -> None:
        self._text = text
        self.number = 0
        self.row_chars = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._text.readline(MAX_ROW_CHARS + 1)
        if not line:
            raise StopIteration
        self.number += 1
        self.row_chars += len(line)
        if self.row_chars > MAX_ROW_CHARS:
            raise UnparseableFile(
                f"Line {self.number}: a row is longer than {MAX_ROW_CHARS:,} characters; gene "
                "rows are short, so check the quotes and the delimiter"
            )
        return line


def _delimited_rows(reader: _Utf8Reader, kind: str) -> Iterator[RawRow]:
    """CSV/TSV with a header naming the columns, or headerless HGNC_ID, SYMBOL[, LOCATION]."""
    delimiter = "\t" if kind == "tsv" else ","
    text = io.TextIOWrapper(io.BufferedReader(reader), encoding="utf-8", newline="")
    lines = _Lines(text)
    records = csv.reader(lines, delimiter=delimiter, strict=True)
    columns: dict[int, str] | None = None
    seen = False
    probe = _HeaderlessProbe()
    blanks: list[int] = []  # blank rows since the last one with values; trailing ones say nothing
    while True:
        first_line = lines.number + 1
        lines.row_chars = 0
        try:
            record = next(records)
        except StopIteration:
            break
        except csv.Error as exc:
            raise UnparseableFile(
                f"Cannot read the file as {kind.upper()} at line {lines.number}: {exc}"
            ) from None
        except UnicodeDecodeError:
            raise reader.failure or UnparseableFile("The file is not UTF-8 text") from None
        if not any(cell.strip() for cell in record):
            blanks.append(first_line)
            continue
        seen = True
        if columns is None:
            columns = _header_columns(record)
            if columns is not None:
                _require_gene_column(columns, record, delimiter)
                blanks.clear()  # blank lines above the header are layout, not rows
                continue
            columns = dict(enumerate(HEADERLESS_COLUMNS))
            probe.active = True
        probe.check(record)
        for line in blanks:
            yield RawRow(line=line, blank=True)
        blanks.clear()
        yield _delimited_row(first_line, record, columns)
    if not seen:
        raise UnparseableFile("The file has no rows")
    probe.finish()


class _HeaderlessProbe:
    """Refuses a headerless file whose first rows hold no HGNC id: it is not a gene list."""

    def __init__(self) -> None:
        self.active = False
        self.rows = 0
        self.found = False

    def check(self, record: list[str]) -> None:
        if not self.active or self.found:
            return
        self.found = bool(record) and LOOKS_LIKE_HGNC_ID.fullmatch(record[0]) is not None
        self.rows += 1
        if not self.found and self.rows >= HEADERLESS_PROBE_ROWS:
            self.finish()

    def finish(self) -> None:
        if self.active and not self.found:
            raise UnparseableFile(
                f"No gene rows found: the file has no header naming an hgnc_id or symbol "
                f"column, and none of its first {min(self.rows, HEADERLESS_PROBE_ROWS)} rows "
                "starts with an HGNC id. Add a header (e.g. hgnc_id,approved_symbol) or put "
                "the HGNC id (HGNC:1234) first on each row"
            )


def _require_gene_column(columns: dict[int, str], header: list[str], delimiter: str) -> None:
    if "hgnc_id" not in columns.values() and "symbol" not in columns.values():
        raise UnparseableFile(
            f"The header {delimiter.join(header)[:200]!r} names no hgnc_id or symbol column; "
            "name one of them (e.g. hgnc_id,approved_symbol)"
        )


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


# --- JSON ------------------------------------------------------------------------------


class _JsonBytes:
    """The file's bytes for yajl, refusing a run of more than MAX_JSON_DIGITS digits."""

    def __init__(self, reader: _Utf8Reader) -> None:
        self._reader = reader
        self._digits = 0  # the run of digits the previous chunk ended with
        self.failure: UnparseableFile | None = None

    def read(self, size: int = -1) -> bytes:
        data = self._reader.read(size) or b""
        leading = len(data) - len(data.lstrip(DIGITS))
        if self._digits + leading > MAX_JSON_DIGITS or LONG_NUMBER.search(data):
            self.failure = UnparseableFile(
                f"The file holds a number longer than {MAX_JSON_DIGITS} digits; gene files "
                "hold short numbers, so check the file"
            )
            raise self.failure
        trailing = len(data) - len(data.rstrip(DIGITS))
        self._digits = trailing if trailing < len(data) else self._digits + trailing
        return data


class _JsonEvents:
    """ijson's events, with parse errors, nesting and row size turned into UnparseableFile."""

    def __init__(self, reader: _Utf8Reader) -> None:
        self._reader = reader
        self._bytes = _JsonBytes(reader)
        self._events = ijson.basic_parse(self._bytes)
        self.depth = 0
        self.gene = 0
        self.row_chars = 0

    def __iter__(self) -> _JsonEvents:
        return self

    def __next__(self) -> tuple[str, Any]:
        try:
            kind, value = next(self._events)
        except StopIteration:
            raise
        # yajl reports a too-long number (ValueError) as SystemError; both are the file's fault.
        except (ijson.JSONError, ValueError, SystemError, OverflowError) as exc:
            failure = self._reader.failure or self._bytes.failure
            if failure is not None:
                raise failure from None
            reason = str(exc.__cause__ or exc).splitlines()[0][:200]
            raise UnparseableFile(f"Invalid JSON near gene {max(self.gene, 1)}: {reason}") from None
        if kind in ("start_map", "start_array"):
            self.depth += 1
            if self.depth > MAX_JSON_DEPTH:
                raise UnparseableFile(
                    f"Invalid JSON near gene {max(self.gene, 1)}: nested deeper than "
                    f"{MAX_JSON_DEPTH} levels; write a list of gene objects"
                )
        elif kind in ("end_map", "end_array"):
            self.depth -= 1
        elif isinstance(value, str):
            self._count(len(value))
        return kind, value

    def _count(self, chars: int) -> None:
        self.row_chars += chars
        if self.row_chars > MAX_ROW_CHARS:
            raise UnparseableFile(
                f"Gene {self.gene}: longer than {MAX_ROW_CHARS:,} characters; gene entries "
                "are short"
            )


def _json_rows(reader: _Utf8Reader) -> Iterator[RawRow]:
    """Panel JSON ({"genes": [...]}) or a plain list of gene objects."""
    events = _JsonEvents(reader)
    kind, _ = next(events, ("", None))
    found = False
    if kind == "start_array":
        found = True
        yield from _json_items(events)
    elif kind == "start_map":
        for key_kind, key in events:
            if key_kind == "end_map":
                break
            value_kind, _ = next(events)
            if key == "genes" and value_kind == "start_array" and not found:
                found = True
                yield from _json_items(events)
            else:
                _skip(value_kind, events)
    for _ in events:  # the rest must parse too (trailing garbage fails the file)
        pass
    if not found:
        raise UnparseableFile('JSON must be a list of genes or an object with a "genes" list')


def _json_items(events: _JsonEvents) -> Iterator[RawRow]:
    while True:
        events.gene += 1
        events.row_chars = 0
        kind, _ = next(events, ("end_array", None))
        if kind == "end_array":
            events.gene -= 1
            return
        if kind != "start_map":
            _skip(kind, events)
            yield RawRow(line=events.gene)  # fails validation: neither id nor symbol
            continue
        yield _json_row(events.gene, _json_object(events))


def _json_object(events: _JsonEvents) -> dict[str, Any]:
    """One gene object's known keys; other keys are skipped, never built."""
    item: dict[str, Any] = {}
    for kind, key in events:
        if kind == "end_map":
            return item
        value_kind, value = next(events)
        if key in JSON_TEXT_KEYS and value_kind not in ("start_map", "start_array"):
            item[key] = value
        elif key in JSON_LIST_KEYS and value_kind == "start_array":
            item[key] = _json_list(events, key)
        elif key in JSON_TEXT_KEYS | JSON_LIST_KEYS:
            _skip(value_kind, events)
            item[key] = _WrongShape(f"{key} is {SHAPES.get(value_kind, 'text')}")
        else:
            _skip(value_kind, events)
    return item


def _json_list(events: _JsonEvents, key: str) -> list[Any] | _WrongShape:
    """A list of scalars, at most MAX_LIST_ENTRIES long."""
    entries: list[Any] = []
    wrong: _WrongShape | None = None
    for kind, value in events:
        if kind == "end_array":
            return wrong or entries
        if kind in ("start_map", "start_array"):
            _skip(kind, events)
            wrong = _WrongShape(f"{key} holds {SHAPES[kind]}")
        elif len(entries) >= MAX_LIST_ENTRIES:
            wrong = _WrongShape(f"{key} has more than {MAX_LIST_ENTRIES:,} entries")
        else:
            entries.append(value)
    return wrong or entries


def _skip(kind: str, events: _JsonEvents) -> None:
    """Consume the rest of a value that started with kind (iteratively: no recursion)."""
    if kind not in ("start_map", "start_array"):
        return
    depth = 1
    for next_kind, _ in events:
        if next_kind in ("start_map", "start_array"):
            depth += 1
        elif next_kind in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                return


@dataclass(frozen=True)
class _WrongShape:
    what: str


def _json_row(number: int, item: dict[str, Any]) -> RawRow:
    problems = [v.what for v in item.values() if isinstance(v, _WrongShape)]
    if problems:
        return RawRow(
            line=number,
            hgnc_id=_text(item.get("hgnc_id")),
            symbol=_text(item.get("approved_symbol") or item.get("symbol")),
            problem="; ".join(problems) + "; write text for ids and symbols, lists of text "
            "for panels and symbols",
        )
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


# --- helpers ---------------------------------------------------------------------------


def _open_local(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise UnparseableFile(f"{path} does not exist") from None
    except IsADirectoryError:
        raise UnparseableFile(f"{path} is a folder; give a gene file") from None


def _open_stored(storage: Storage, name: str) -> IO[bytes]:
    try:
        return storage.open(name, "rb")
    except FileNotFoundError:
        raise UnparseableFile(
            f"The uploaded file {name} is gone (deleted or pruned); upload it again"
        ) from None


def _normalise(header: str) -> str:
    return "".join(ch for ch in header.lower() if ch.isalnum())


def _text(value: Any) -> str:
    if value is None or isinstance(value, _WrongShape):
        return ""
    return str(value).strip()


def _symbols(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    text = _text(value).replace("|", ",")
    return [part.strip() for part in text.split(",") if part.strip()]
