"""The objects an upload passes through: raw files, sheets of text cells, table parts, results."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

import polars as pl

from kpi_engine.core.errors import Problem

#: Provenance columns every parsed table carries next to its canonical columns.
PROVENANCE = ("_file", "_sheet", "_row")

#: What ``FileReport.source`` and ``read_upload(source=...)`` may name.
SOURCES = ("template", "jira", "msproject", "smartsheet", "asana", "p6", "mapping")


def file_stem(name: str) -> str:
    """A file name without folders and without its last extension (``a/b.x.csv`` -> ``b.x``)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] if "." in base else base


@dataclass(frozen=True)
class SourceFile:
    """The raw bytes of one uploaded file and the name the user knows it by."""

    name: str
    data: bytes = field(repr=False)

    @cached_property
    def sha256(self) -> str:
        """Hex SHA-256 of the bytes (identifies an upload that was already stored); computed once."""
        return hashlib.sha256(self.data).hexdigest()

    @property
    def stem(self) -> str:
        """The file name without folders and without its last extension."""
        return file_stem(self.name)


@dataclass(frozen=True)
class FileReport:
    """What was recognised in one file of an upload."""

    name: str
    sha256: str
    size: int
    source: str
    tables: dict[str, int]


@dataclass(frozen=True)
class ParsedUpload:
    """A whole upload, parsed, mapped onto the canonical tables and validated.

    ``tables`` holds only tables with at least one row; every frame has the canonical
    columns of ``kpi_engine.core.schema`` followed by ``_file``, ``_sheet`` and ``_row``.
    """

    tables: dict[str, pl.DataFrame]
    files: list[FileReport]
    warnings: list[Problem]


@dataclass(frozen=True)
class Sheet:
    """One sheet (or one CSV file) as text: columns ``c0..cN`` plus ``_row``.

    Cells are stripped and blank cells are null; fully blank rows are already gone,
    ``_row`` keeps the row number a person sees (header of a plain CSV = row 1).

    Workbook sheets also carry what the cells alone do not show: ``merged`` lists the
    merged ranges whose value was given to each of their rows (``B2:B4``), and
    ``unsaved_formulas`` the formulas saved without a value as (row, index of the column
    ``ci`` or None when outside the cells read, Excel reference such as ``E4``), the first
    few of ``unsaved_total``.
    """

    file: str
    name: str
    cells: pl.DataFrame
    decimal_comma: bool = False
    epoch1904: bool = False
    merged: tuple[str, ...] = ()
    unsaved_formulas: tuple[tuple[int, int | None, str], ...] = ()
    unsaved_total: int = 0

    @property
    def width(self) -> int:
        return self.cells.width - 1

    def head_rows(self, n: int = 30) -> list[list[str | None]]:
        """The first ``n`` non-blank rows as lists of cell text (for finding the header)."""
        cols = [f"c{i}" for i in range(self.width)]
        return [list(r) for r in self.cells.head(n).select(cols).iter_rows()]


@dataclass(frozen=True)
class Block:
    """The data rows of a sheet below its header row.

    ``data`` has columns ``c0..cN`` (as in the sheet) and the provenance columns;
    ``headers[i]`` is the header text of column ``ci`` (None when blank).
    """

    sheet: Sheet
    header_row: int
    headers: tuple[str | None, ...]
    data: pl.DataFrame

    @property
    def file(self) -> str:
        return self.sheet.file

    @property
    def name(self) -> str:
        return self.sheet.name

    @cached_property
    def by_key(self) -> dict[str, list[str]]:
        """Normalised header -> the columns ``ci`` that carry it, left to right."""
        from kpi_engine.ingest.headers import normalise_header

        found: dict[str, list[str]] = {}
        for i, text in enumerate(self.headers):
            if text is not None:
                found.setdefault(normalise_header(text), []).append(f"c{i}")
        return found

    def column(self, *keys: str) -> str | None:
        """The first column whose normalised header is one of ``keys`` (in that preference)."""
        for key in keys:
            if key in self.by_key:
                return self.by_key[key][0]
        return None

    def label(self, column: str) -> str:
        """The header text of column ``ci`` as the file shows it."""
        return self.headers[int(column[1:])] or column


@dataclass(frozen=True)
class TablePart:
    """Rows of one canonical table taken from one sheet, still as text.

    ``frame`` holds some canonical columns (text) plus the provenance columns;
    ``labels`` names, for each canonical column, the header a person sees in the file
    (or, for a missing column, the header that was expected).  ``derived`` rows are
    summaries a tool export implies (a Jira project from its issues, a link from a
    label): they yield to rows given explicitly and are not duplicates of each other.
    """

    table: str
    frame: pl.DataFrame
    labels: dict[str, str]
    file: str
    sheet: str
    source: str
    decimal_comma: bool = False
    epoch1904: bool = False
    date_order: str | None = None
    derived: bool = False


@dataclass
class Outcome:
    """Parts, blocking problems and warnings collected while reading."""

    parts: list[TablePart] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def extend(self, other: Outcome) -> None:
        self.parts.extend(other.parts)
        self.problems.extend(other.problems)
        self.warnings.extend(other.warnings)


def problems_where(frame: pl.DataFrame, mask: pl.Expr, column: str, message: pl.Expr) -> list[Problem]:
    """One Problem per row of ``frame`` where ``mask`` holds, located by its provenance columns.

    Only the offending rows are turned into Python objects, so a clean column costs
    one vectorised filter.
    """
    bad = frame.filter(mask)
    if bad.height == 0:
        return []
    rows = bad.select(pl.col("_file"), pl.col("_sheet"), pl.col("_row"), message.alias("_msg"))
    return [Problem(f, s, r, column, m) for f, s, r, m in rows.iter_rows()]
