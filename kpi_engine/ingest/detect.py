"""Recognise what a sheet is (which tool, which canonical table) and where its header row is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from kpi_engine.core.errors import Problem
from kpi_engine.core.schema import TABLES, required_columns
from kpi_engine.ingest.headers import named_columns, normalise_header, table_for_name
from kpi_engine.ingest.model import Block, Sheet

#: How many non-blank rows from the top may sit above a header (titles, export notes).
HEADER_SEARCH_ROWS = 30

TOOLS = ("jira", "asana", "msproject", "smartsheet")


def _has(keys: set[str], *names: str) -> bool:
    return all(n in keys for n in names)


def _any(keys: set[str], *names: str) -> bool:
    return any(n in keys for n in names)


#: Tool -> test on the set of normalised headers of a row.  Checked in this order, so a
#: sheet matching two tools is read as the first (Asana's "Task ID" never occurs in Jira).
SIGNATURES: dict[str, Callable[[set[str]], bool]] = {
    "jira": lambda k: _has(k, "issuekey", "issuetype") or _has(k, "issuekey", "summary", "issueid"),
    "asana": lambda k: _has(k, "taskid", "name") and _any(k, "sectioncolumn", "assigneeemail", "parenttask"),
    "msproject": lambda k: (
        _any(k, "name", "taskname")
        and "finish" in k
        and _any(k, "uniqueid", "outlinelevel", "resourcenames", "baselinefinish")
    ),
    "smartsheet": lambda k: "taskname" in k and _any(k, "enddate", "assignedto"),
}

LAYOUT_DESCRIPTION = (
    "the canonical template (a workbook with one sheet per table, or one CSV per table named "
    + ", ".join(f"{t}.csv" for t in TABLES)
    + "), an export from Jira, MS Project, Smartsheet or Asana (CSV or Excel), "
    "or a file read with a column mapping"
)


@dataclass(frozen=True)
class Recognised:
    """What a sheet was recognised as: a tool export or a canonical table, and its header row index."""

    layout: str  # a tool name or "template"
    table: str | None  # canonical table for "template"
    header_index: int  # position of the header row among the sheet's non-blank rows


def _keys(row: list[str | None]) -> set[str]:
    return {normalise_header(c) for c in row if c}


#: A sheet named after no table is recognised by its headers only when they name at least
#: this many columns of it: ``Name`` alone (all that people requires) is in too many sheets.
HEADER_ONLY_COLUMNS = 2


def best_table(row: list[str | None]) -> str | None:
    """The canonical table whose required columns a header row names in full (most matches wins)."""
    best, best_score = None, 0
    for table in TABLES:
        matched = named_columns(table, row)
        if len(matched) < HEADER_ONLY_COLUMNS:
            continue
        if set(required_columns(table)) <= matched and len(matched) > best_score:
            best, best_score = table, len(matched)
    return best


def recognise(sheet: Sheet, *, only: str | None = None) -> Recognised | None:
    """Recognise a sheet from its name and the headers in its first rows.

    Parameters
    ----------
    sheet
        The sheet (a CSV file is a sheet named after its file stem).
    only
        Restrict to one layout ("template" or a tool name), as ``read_upload(source=...)`` asks.

    Returns
    -------
    Recognised or None
        None when nothing matches.  A sheet named after a canonical table (``milestones``,
        ``KPI Actuals``) is that table, unless its headers lack the table's required columns
        and match a tool export instead (an MS Project export saved as ``tasks.csv``); its
        header row is the first row naming most of the table's columns, so that a sheet
        with poor headers is still read and its missing columns named.
    """
    rows = sheet.head_rows(HEADER_SEARCH_ROWS)
    if not rows:
        return None
    tools = [t for t in TOOLS if only in (None, t)]
    tool_hit = next(
        (Recognised(tool, None, i) for i, row in enumerate(rows) for tool in tools if SIGNATURES[tool](_keys(row))),
        None,
    )
    named = table_for_name(sheet.name) if only in (None, "template") else None
    if named is not None:
        matched = [named_columns(named, r) for r in rows]
        best = max(len(m) for m in matched)
        index = next(i for i, m in enumerate(matched) if len(m) == best) if best else 0
        if set(required_columns(named)) <= matched[index] or tool_hit is None:
            return Recognised("template", named, index)
    if tool_hit is not None:
        return tool_hit
    if only in (None, "template"):
        for index, row in enumerate(rows):
            table = best_table(row)
            if table is not None:
                return Recognised("template", table, index)
    return None


def find_header(sheet: Sheet, wanted: list[str]) -> int:
    """Index of the first row naming the most of ``wanted`` headers (normalised), 0 if none."""
    keys = {normalise_header(w) for w in wanted}
    rows = sheet.head_rows(HEADER_SEARCH_ROWS)
    scores = [len(keys & _keys(r)) for r in rows]
    best = max(scores, default=0)
    return scores.index(best) if best > 0 else 0


def make_block(sheet: Sheet, header_index: int) -> tuple[Block, list[Problem]]:
    """Cut a sheet at its header row.

    Values to the right of the last header (a ragged row with more fields than the header)
    cannot be assigned to a column: each such row is a problem, never silently cut.
    """
    width = sheet.width
    header_values = sheet.cells.row(header_index)[:width]
    headers = tuple(header_values)
    header_row = int(sheet.cells["_row"][header_index])
    last = max((i for i, h in enumerate(headers) if h is not None), default=-1)
    data = sheet.cells.slice(header_index + 1).with_columns(
        _file=pl.lit(sheet.file, dtype=pl.String), _sheet=pl.lit(sheet.name, dtype=pl.String)
    )
    problems: list[Problem] = []
    extra = [f"c{i}" for i in range(last + 1, width)]
    if extra:
        overflow = data.filter(pl.any_horizontal(pl.col(extra).is_not_null()))
        if overflow.height:
            counts = overflow.select(
                "_row",
                n=pl.max_horizontal(*(pl.when(pl.col(c).is_not_null()).then(int(c[1:]) + 1) for c in extra)),
                value=pl.coalesce(*extra),
            )
            problems = [
                Problem(
                    sheet.file,
                    sheet.name,
                    row,
                    "",
                    f"this row has {n} values but the header has {last + 1} columns "
                    f"(extra value '{value}'); check for a stray delimiter or an unquoted value",
                )
                for row, n, value in counts.iter_rows()
            ]
        data = data.drop(extra)
        headers = headers[: last + 1]
    return Block(sheet, header_row, headers, data), problems


#: Plan file format -> the extensions that name it (the content decides when it is clear).
PLAN_SUFFIXES = {"mspdi": (".xml",), "mpp": (".mpp", ".mpt"), "xer": (".xer",)}
#: Plan file format -> the source its upload report names.
PLAN_SOURCES = {"mspdi": "msproject", "mpp": "msproject", "xer": "p6"}


def plan_format(name: str, data: bytes) -> str | None:
    """Recognise a whole plan file (not a sheet): MS Project XML or .mpp, or a Primavera P6 .xer.

    The content decides where it is unmistakable (an .xer starts with ``ERMHDR``; MS Project
    XML names its namespace near the top); otherwise the extension does, and the reader
    then says clearly what the file holds instead.

    Returns
    -------
    str or None
        ``"mspdi"``, ``"mpp"``, ``"xer"``, or None for a sheet file (CSV, workbook).
    """
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"ERMHDR"):
        return "xer"
    if head.startswith(b"<") and b"schemas.microsoft.com/project" in head:
        return "mspdi"
    lower = name.lower()
    for plan, suffixes in PLAN_SUFFIXES.items():
        if lower.endswith(suffixes):
            return plan
    return None
