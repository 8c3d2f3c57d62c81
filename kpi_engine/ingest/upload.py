"""Read a whole upload: files -> sheets -> recognised layouts -> canonical tables, validated."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import polars as pl

from kpi_engine.core.errors import InputError, Problem, RowError, UploadRejected
from kpi_engine.core.schema import KEYS, TABLES
from kpi_engine.ingest.archive import UNSAVED_FORMULA
from kpi_engine.ingest.dates import ORDERS
from kpi_engine.ingest.detect import (
    LAYOUT_DESCRIPTION,
    PLAN_SOURCES,
    PLAN_SUFFIXES,
    TOOLS,
    Recognised,
    make_block,
    plan_format,
    recognise,
)
from kpi_engine.ingest.limits import max_upload_mb, oversized_problems
from kpi_engine.ingest.mapping import ColumnMapping, mapping_part
from kpi_engine.ingest.model import (
    PROVENANCE,
    SOURCES,
    Block,
    FileReport,
    Outcome,
    ParsedUpload,
    Sheet,
    SourceFile,
)
from kpi_engine.ingest.people import people_problems
from kpi_engine.ingest.readers import (
    TEXT_SUFFIXES,
    WORKBOOK_SUFFIXES,
    is_workbook,
    read_sheets,
)
from kpi_engine.ingest.template import template_part
from kpi_engine.ingest.tools import ADAPTERS, read_plan
from kpi_engine.ingest.validate import MISSING_VALUE, convert, duplicate_problems

UNRECOGNISED = "the headers match no layout this program reads; it accepts " + LAYOUT_DESCRIPTION


def read_paths(
    paths: Sequence[str | Path], *, max_file_mb: float | None = None, raise_hint: str = ""
) -> list[SourceFile]:
    """Read files and folders into SourceFiles.

    A folder stands for every .csv/.tsv/.txt/.xlsx/.xlsm/.xls/.xlsb file (and plan file:
    .xml/.mpp/.mpt/.xer) directly in it, in
    name order (Excel's lock files ``~$name.xlsx`` are skipped).

    Parameters
    ----------
    paths
        Files and folders.
    max_file_mb
        Refuse files larger than this many MB before reading any of them (default:
        ``limits.max_upload_mb()``, i.e. ``$KPI_MAX_UPLOAD_MB`` else 50).
    raise_hint
        How the caller raises the limit (e.g. ``"with --max-upload-mb"``), for the message.

    Raises
    ------
    InputError
        A path that does not exist, or a folder holding no such file.
    UploadRejected
        A file is over the size limit (nothing was read).
    """
    suffixes = TEXT_SUFFIXES + WORKBOOK_SUFFIXES + tuple(s for group in PLAN_SUFFIXES.values() for s in group)
    found_paths: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith("~$")
            )
            if not found:
                raise InputError(f"folder {path} holds no CSV or Excel files ({', '.join(suffixes)})")
            found_paths.extend(found)
        elif path.is_file():
            found_paths.append(path)
        else:
            raise InputError(f"no such file or folder: {path}")
    # the sizes first: a file far over the limit is never read into memory
    limit = max_upload_mb(max_file_mb)
    too_large = oversized_problems(((p.name, p.stat().st_size) for p in found_paths), limit, raise_hint)
    if too_large:
        raise UploadRejected(too_large)
    return [SourceFile(p.name, p.read_bytes()) for p in found_paths]


def detect_source(file: SourceFile) -> str:
    """Name the layout of a file from its sheet names and headers.

    Returns
    -------
    str
        'template', 'jira', 'msproject', 'smartsheet' or 'asana' (the first sheet that is
        recognised decides), 'msproject' or 'p6' for a plan file, or 'unknown'.

    Raises
    ------
    InputError
        A workbook that is damaged or too large to open safely.
    """
    plan = plan_format(file.name, file.data)
    if plan is not None:
        return PLAN_SOURCES[plan]
    for sheet in read_sheets(file):
        found = recognise(sheet)
        if found is not None:
            return found.layout
    return "unknown"


def read_upload(
    files: Sequence[SourceFile],
    source: str = "auto",
    mapping: ColumnMapping | None = None,
    *,
    date_order: str | None = None,
    max_file_mb: float | None = None,
) -> ParsedUpload:
    """Parse, map and validate a whole upload.

    Parameters
    ----------
    files
        The files of the upload; rows of the same table from several files are concatenated.
    source
        'auto' recognises each sheet by its name and headers; 'template', 'jira',
        'msproject', 'smartsheet' or 'asana' reads every file as that layout; 'mapping' reads
        every file with ``mapping``.
    mapping
        A column mapping for files of another layout.  With ``source='auto'`` it reads the
        files nothing else recognises.
    date_order
        'dmy' or 'mdy' for numeric dates (03/04/2026) in files not read with a mapping
        (a mapping carries its own); None decides from the values.
    max_file_mb
        Files larger than this many MB are refused unread (default: ``limits.max_upload_mb()``,
        i.e. ``$KPI_MAX_UPLOAD_MB`` else 50, the dashboard's ``server.maxUploadSize``).

    Returns
    -------
    ParsedUpload

    Raises
    ------
    UploadRejected
        Listing every problem found (file, sheet, row, column, message); nothing is returned.
    InputError
        Bad arguments (no files, unknown source, 'mapping' without a mapping).
    """
    if not files:
        raise InputError("no files to read")
    if source != "auto" and source not in SOURCES:
        raise InputError(f"unknown source '{source}'; use auto, {', '.join(SOURCES)}")
    if source == "mapping" and mapping is None:
        raise InputError("source 'mapping' needs a column mapping")
    if date_order not in (None, *ORDERS):
        raise InputError(f"date order must be dmy or mdy, not '{date_order}'")
    limit = max_upload_mb(max_file_mb)

    # hashing releases the GIL: fingerprint the files while they are parsed
    hashing = ThreadPoolExecutor(max_workers=1)
    hashes = hashing.map(lambda f: f.sha256, files)
    try:
        return _read(files, source, mapping, date_order, limit)
    finally:
        list(hashes)
        hashing.shutdown()


def _read(
    files: Sequence[SourceFile], source: str, mapping: ColumnMapping | None, date_order: str | None, max_mb: float
) -> ParsedUpload:
    """read_upload without the argument checks."""
    outcome = Outcome()
    outcome.problems += oversized_problems(((f.name, len(f.data)) for f in files), max_mb)
    readable = [f for f in files if len(f.data) <= max_mb * 1024 * 1024]
    names = [f.name for f in files]
    for name in dict.fromkeys(n for n in names if names.count(n) > 1):
        # every row is located by its file name: two files of one name would make that ambiguous
        outcome.problems.append(Problem(name, "-", None, "", "two files of the upload have this name; rename one"))
    layouts: dict[str, str] = {}  # file name -> source for its report
    tool_blocks: dict[str, list[Block]] = {tool: [] for tool in TOOLS}
    for file in readable:
        outcome.extend(_read_file(file, source, mapping, layouts, tool_blocks))
    for tool, blocks in tool_blocks.items():
        if blocks:
            outcome.extend(ADAPTERS[tool](blocks))

    problems, warnings = outcome.problems, outcome.warnings
    typed: dict[str, list[pl.DataFrame]] = {t: [] for t in TABLES}
    counts: dict[str, dict[str, int]] = {f.name: {} for f in files}
    for part in outcome.parts:
        if date_order is not None and part.date_order is None:
            part = replace(part, date_order=date_order)
        frame, part_problems, part_warnings = convert(part)
        problems += part_problems
        warnings += part_warnings
        typed[part.table].append(frame.with_columns(_derived=pl.lit(part.derived)))
        if part.file in counts:
            counts[part.file].setdefault(part.table, 0)

    tables: dict[str, pl.DataFrame] = {}
    for table, frames in typed.items():
        if not frames:
            continue
        rows = _settle_derived(table, pl.concat(frames, how="vertical"))
        problems += duplicate_problems(table, rows)
        if table == "people":
            problems += people_problems(rows)
        for name, n in rows.group_by("_file").len().iter_rows():
            if name in counts:
                counts[name][table] = n
        if rows.height:
            tables[table] = rows

    if not problems and not tables:
        listed = ", ".join(f.name for f in files)
        problems.append(Problem(listed, "-", None, "", "the upload holds no data rows"))
    if problems:
        # a formula saved without its value leaves the cell blank: say why once, not "required" too
        unsaved = {(p.file, p.sheet, p.row, p.column) for p in problems if p.message.endswith(UNSAVED_FORMULA)}
        if unsaved:
            problems = [
                p
                for p in problems
                if not (p.message == MISSING_VALUE and (p.file, p.sheet, p.row, p.column) in unsaved)
            ]
        order = {f.name: i for i, f in enumerate(files)}
        # two parts of one sheet (a tool's milestones and tasks) may miss the same column: say it once
        problems = list(dict.fromkeys(problems))
        problems.sort(key=lambda p: (order.get(p.file, len(order)), p.sheet, -1 if p.row is None else p.row))
        raise UploadRejected(problems)
    reports = [
        FileReport(
            name=f.name,
            sha256=f.sha256,
            size=len(f.data),
            source=layouts.get(f.name, "template"),
            tables={t: counts[f.name][t] for t in TABLES if t in counts[f.name]},
        )
        for f in files
    ]
    return ParsedUpload(tables=tables, files=reports, warnings=list(dict.fromkeys(warnings)))


def _read_file(
    file: SourceFile,
    source: str,
    mapping: ColumnMapping | None,
    layouts: dict[str, str],
    tool_blocks: dict[str, list[Block]],
) -> Outcome:
    """Recognise each sheet of one file; template and mapping parts now, tool blocks for later."""
    plan = plan_format(file.name, file.data)
    if plan is not None or source == "p6":
        # a plan file (MS Project XML/.mpp, P6 .xer) is read whole by its own reader
        layouts.setdefault(file.name, PLAN_SOURCES[plan or "xer"])
        return read_plan(file, plan, source)
    outcome = Outcome()
    try:
        sheets = [s for s in read_sheets(file) if s.cells.height]
    except RowError as err:
        outcome.problems.append(err.problem)
        return outcome
    except InputError as err:
        outcome.problems.append(Problem(file.name, "-", None, "", str(err)))
        return outcome
    if not sheets:
        empty = (
            "the workbook has no visible sheet holding cells (hidden sheets and chart sheets are not read)"
            if is_workbook(file.data)
            else "the file is empty"
        )
        outcome.problems.append(Problem(file.name, "-", None, "", empty))
        return outcome
    unrecognised = []
    for sheet in sheets:
        if source == "mapping" or (mapping is not None and source == "auto" and recognise(sheet) is None):
            assert mapping is not None
            outcome.extend(mapping_part(sheet, mapping))
            outcome.extend(_workbook_notes(sheet, None))
            layouts.setdefault(file.name, "mapping")
            continue
        found = recognise(sheet, only=None if source == "auto" else source)
        if found is None and source in TOOLS:
            # the user said which tool made the file: read it as such and report what is missing
            found = Recognised(source, None, 0)
        if found is None:
            unrecognised.append(sheet)
            continue
        block, problems = make_block(sheet, found.header_index)
        outcome.problems += problems
        outcome.extend(_workbook_notes(sheet, block))
        layouts.setdefault(file.name, found.layout)
        if found.layout == "template":
            assert found.table is not None
            outcome.extend(template_part(block, found.table))
        else:
            tool_blocks[found.layout].append(block)
    for sheet in unrecognised:
        note = Problem(file.name, sheet.name, None, "", UNRECOGNISED)
        if len(unrecognised) == len(sheets):
            outcome.problems.append(note)
        else:
            # a workbook's other sheets (notes, pivots) are not data: say they were skipped
            outcome.warnings.append(
                Problem(file.name, sheet.name, None, "", "sheet not read: its name and headers match no table")
            )
    return outcome


def _workbook_notes(sheet: Sheet, block: Block | None) -> Outcome:
    """Formulas saved without a value (problems) and merged ranges read row by row (a warning).

    Only cells from the header row down count (a title formula does not); with no block
    (a sheet read with a column mapping) every cell counts.
    """
    notes = Outcome()
    first_row = block.header_row if block is not None else 0
    listed = 0
    for row, position, ref in sheet.unsaved_formulas:
        if row < first_row:
            continue
        listed += 1
        known = block is not None and position is not None and position < len(block.headers)
        column = block.label(f"c{position}") if known else ref.rstrip("0123456789")  # type: ignore[union-attr]  # known implies a block
        notes.problems.append(Problem(sheet.file, sheet.name, row, column, f"cell {ref}: {UNSAVED_FORMULA}"))
    if sheet.unsaved_total > len(sheet.unsaved_formulas):
        more = sheet.unsaved_total - len(sheet.unsaved_formulas)
        notes.problems.append(
            Problem(sheet.file, sheet.name, None, "", f"{more:,} more cells hold a {UNSAVED_FORMULA}")
        )
    if sheet.merged:
        shown = ", ".join(sheet.merged[:5]) + (f" and {len(sheet.merged) - 5} more" if len(sheet.merged) > 5 else "")
        notes.warnings.append(
            Problem(
                sheet.file,
                sheet.name,
                None,
                "",
                f"merged cells {shown} were read as their value repeated on every row they cover",
            )
        )
    return notes


def _settle_derived(table: str, rows: pl.DataFrame) -> pl.DataFrame:
    """Let rows a tool export implies (``_derived``) yield to rows given explicitly, then drop the flag.

    A Jira export names its project on every issue and two exports of the same project name
    it twice: such rows are one project, not duplicates.  A project or link the template
    gives explicitly wins over the one implied by an export.
    """
    derived = pl.col("_derived")
    if not rows["_derived"].any():
        return rows.drop("_derived")
    key = list(KEYS[table])
    explicit = rows.filter(~derived)
    implied = (
        rows.filter(derived)
        .join(explicit.select(key).drop_nulls(), on=key, how="anti")
        .unique(key, keep="first", maintain_order=True)
    )
    return pl.concat([explicit, implied]).drop("_derived").select(*TABLES[table], *PROVENANCE)
