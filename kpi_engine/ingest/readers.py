"""Read the bytes of a CSV file or a workbook into sheets of text cells.

Nothing is interpreted here beyond text: every cell is read as a string (CSV with
``infer_schema=False``, workbooks through calamine with ``dtypes="string"``), stripped,
blank -> null.  Finding the header, types and meaning happen later, column-wise.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import re

import numpy as np
import polars as pl

from kpi_engine.core.errors import InputError, RowError
from kpi_engine.ingest.archive import (
    OLE_MAGIC,
    PASSWORD_PROTECTED,
    ZIP_MAGIC,
    SheetScan,
    WorkbookInfo,
    cell_ref,
    check_ole_workbook,
    inspect_zip_workbook,
)
from kpi_engine.ingest.biff import inspect_xls_workbook
from kpi_engine.ingest.limits import DEFAULT_MAX_UNPACKED_MB, MB
from kpi_engine.ingest.model import Sheet, SourceFile

DELIMITERS = (",", ";", "\t", "|")
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb")
TEXT_SUFFIXES = (".csv", ".txt", ".tsv")

#: The default unpacked size limit of a workbook (``limits.max_unpacked_bytes`` reads the setting).
MAX_UNPACKED_BYTES = int(DEFAULT_MAX_UNPACKED_MB * MB)

# Control characters (other than tab, line feed, form feed and carriage return), C1 controls
# and the replacement character: text files hold almost none, binary files many.
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0e-\x1f\x80-\x9f\ufffd]")

_SAMPLE = 65_536
_CALAMINE_ERRORS = {
    "NA": "#N/A",
    "Div0": "#DIV/0!",
    "Value": "#VALUE!",
    "Ref": "#REF!",
    "Name": "#NAME?",
    "Num": "#NUM!",
    "Null": "#NULL!",
    "GettingData": "#GETTING_DATA",
}


def is_workbook(data: bytes) -> bool:
    """True for xlsx/xlsm/xlsb (zip) and legacy xls (OLE) content, whatever the file is called."""
    return data[:4] == ZIP_MAGIC or data[:8] == OLE_MAGIC


def read_sheets(file: SourceFile) -> list[Sheet]:
    """Read one file into its sheets: a CSV is one sheet named after the file stem.

    Workbooks give their visible worksheets, in workbook order.  The content decides how a
    file is read; a file named as a workbook that holds something else is refused.

    Raises
    ------
    InputError
        The file is not what its name says, is damaged, protected or unsafe to open.
    RowError
        A CSV file ends inside a quoted value.
    """
    if is_workbook(file.data):
        return read_workbook(file)
    if file.name.lower().endswith(WORKBOOK_SUFFIXES) and file.data.strip():
        raise InputError(_not_a_workbook(file))
    return [read_csv(file)]


def _not_a_workbook(file: SourceFile) -> str:
    """Say what a file named like a workbook holds instead."""
    suffix = file.name.rsplit(".", 1)[-1].lower()
    head = decode(file.data[:_SAMPLE]).decode("utf-8", errors="replace").lstrip().lower()
    named = f"the file is named .{suffix} but is not an Excel workbook"
    if "urn:schemas-microsoft-com:office:spreadsheet" in head:
        return f"{named}: it is an Excel 2003 XML spreadsheet; open it in Excel and save it as .xlsx"
    if head.startswith("<") and ("<html" in head or "<table" in head or "<!doctype html" in head):
        return (
            f"{named}: it holds a web page (HTML), as some tools export 'Excel' files; "
            "open it in Excel and save it as .xlsx, or export CSV instead"
        )
    if not _looks_binary(file.data):
        return f"{named}: it holds text; if it is a CSV export, name it .csv"
    return f"{named}; it may be damaged, or another kind of file renamed"


def _looks_binary(data: bytes) -> bool:
    """True when the start of a file decodes to text full of control characters (an image, a PDF ...)."""
    text = decode(data[:_SAMPLE]).decode("utf-8", errors="replace")
    # a stray control character in a cell is a problem of that cell, not of the file
    return len(_NOT_TEXT.findall(text)) > max(8, len(text) // 100)


# --------------------------------------------------------------------------- CSV


def decode(data: bytes, *, assume_utf8: bool = False) -> bytes:
    """Return the text of a CSV file as UTF-8 bytes without BOM.

    UTF-8 (with or without BOM), UTF-32 LE/BE (BOM), UTF-16 LE/BE (BOM, or NUL-byte
    pattern without one), else Windows-1252 (the encoding Excel writes "CSV" in on
    Western Windows), else Latin-1 (which decodes anything).  A UTF-16/32 file cut inside
    a character keeps a replacement character there (reported with its cell), not an error.  With ``assume_utf8`` a file without BOM is returned
    as is, for a reader that validates UTF-8 itself (polars does, and fails loudly).
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[3:]
    boms = (
        # UTF-32 first: its little-endian mark begins with UTF-16's
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    )
    for bom, name in boms:
        if data.startswith(bom):
            return data[len(bom) :].decode(name, errors="replace").encode("utf-8")
    head = data[:1000]
    if len(head) >= 4 and head.count(0) > len(head) // 4:
        name = "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
        return data.decode(name, errors="replace").encode("utf-8")
    if assume_utf8:
        return data
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252").encode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1").encode("utf-8")


def sniff_delimiter(text: str) -> str:
    """Pick the delimiter (``,`` ``;`` tab ``|``) that splits the first lines most consistently.

    Quoted parts are ignored.  Title lines above the header split into one field with
    every candidate, so the mode over lines (not the first line) decides.
    """
    unquoted = re.sub(r'"[^"]*"', '""', text)
    lines = [ln for ln in unquoted.splitlines()[:50] if ln.strip()]
    if not lines:
        return ","
    best, best_score = ",", (0, 0)
    for delim in DELIMITERS:
        counts = [ln.count(delim) for ln in lines]
        positive = [c for c in counts if c > 0]
        if not positive:
            continue
        mode = max(set(positive), key=positive.count)
        score = (positive.count(mode), mode)
        if score > best_score:
            best, best_score = delim, score
    return best


def read_csv(file: SourceFile) -> Sheet:
    """Read a CSV / TSV / TXT file as text cells (header row not yet located).

    Polars reads well-formed files; files whose rows have different numbers of fields
    (title lines, ragged rows) are read by the csv module instead, so no value is cut off.
    """
    if _looks_binary(file.data):
        raise InputError(
            "the file is not text (CSV): it holds binary data; it may be damaged, or another kind of file renamed"
        )
    data = decode(file.data, assume_utf8=True)
    delim = sniff_delimiter(data[:_SAMPLE].decode("utf-8", errors="ignore"))
    try:
        raw = _read_polars(data, delim)
    except pl.exceptions.ComputeError as err:
        raw = None
        if "utf-8" in str(err).lower() or "utf8" in str(err).lower():
            data = decode(data)  # not UTF-8 after all: Windows-1252 or Latin-1
            with contextlib.suppress(pl.exceptions.ComputeError):
                raw = _read_polars(data, delim)
        if raw is None:
            raw = _read_ragged(decode(data).decode("utf-8"), delim, file)
    assert raw is not None  # read by polars, or line by line above
    return Sheet(
        file=file.name,
        name=file.stem,
        cells=_clean(raw),
        decimal_comma=delim == ";",
    )


def _read_polars(data: bytes, delim: str) -> pl.DataFrame:
    """Every record as text; the header row stays a data row (its names may repeat, as Jira's do)."""
    return pl.read_csv(
        data, has_header=False, infer_schema=False, separator=delim, quote_char='"', raise_if_empty=False
    )


def _read_ragged(text: str, delim: str, file: SourceFile) -> pl.DataFrame:
    """The fallback for records of different lengths (title lines, stray delimiters): pad, never cut.

    A quote that opens a value and never closes would swallow every later row into that
    value: that is refused, naming the row where the value starts.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, quotechar='"')
    rows: list[list[str]] = []
    lines_read = lines_before_last = 0
    for row in reader:
        rows.append(row)
        lines_before_last, lines_read = lines_read, reader.line_num
    if rows and _ends_inside_quotes(text, lines_before_last, delim):
        row_number, position = len(rows), len(rows[-1]) - 1
        header = rows[0] if len(rows) > 1 else []
        column = header[position].strip() if position < len(header) and header[position].strip() else ""
        raise RowError(
            file.name,
            file.stem,
            row_number,
            column or f"column {position + 1}",
            'a quote (") opens this value and never closes, so every later row would be read into it; '
            "close the quote or remove it",
        )
    width = max((len(r) for r in rows), default=0)
    columns = {f"column_{i}": [r[i] if i < len(r) else None for r in rows] for i in range(width)}
    return pl.DataFrame(columns, schema={name: pl.String for name in columns})


def _ends_inside_quotes(text: str, skip_lines: int, delim: str) -> bool:
    """True when the last record (from line ``skip_lines + 1``) is a quoted value running to the end."""
    lines = io.StringIO(text, newline="")
    for _ in range(skip_lines):
        lines.readline()
    try:
        for _ in csv.reader(lines, delimiter=delim, quotechar='"', strict=True):
            pass
    except csv.Error as err:
        return "unexpected end of data" in str(err)
    return False


def _clean(raw: pl.DataFrame) -> pl.DataFrame:
    """Name columns c0..cN, strip cells, blank -> null, number rows, drop fully blank rows."""
    names = [f"c{i}" for i in range(raw.width)]
    cells = raw.rename(dict(zip(raw.columns, names, strict=True))).with_columns(
        pl.col(names).cast(pl.String).str.strip_chars().replace("", None),
    )
    cells = cells.with_row_index("_row", offset=1).with_columns(pl.col("_row").cast(pl.Int64))
    if not names:
        return cells
    return cells.filter(~pl.all_horizontal(pl.col(names).is_null())).select(*names, "_row")


# --------------------------------------------------------------------------- workbooks


def read_workbook(file: SourceFile) -> list[Sheet]:
    """Read the visible worksheets of a workbook as text cells through calamine (fastexcel).

    Date cells arrive as ISO date-times; calamine applies the 1904 system to them itself,
    and ``Sheet.epoch1904`` tells the date parser how to read plain serial numbers.
    Cells showing an Excel error (``#N/A``) keep that text so they are reported, not lost.
    Number cells arrive as calamine writes them, rounded to 9 decimal places (ample for
    money, KPI values and percentages; reading them as text keeps a column of mixed
    numbers and words whole instead of losing the words).

    Before calamine opens a zip workbook, :func:`~kpi_engine.ingest.archive.inspect_zip_workbook`
    checks it against the size limits and finds hidden and chart sheets, merged cells and
    formulas saved without a value.  A merged range spanning rows reads as its value in
    each of those rows, as the sheet shows it (``Sheet.merged`` lists the ranges).

    Raises
    ------
    InputError
        The workbook is damaged, protected with a password, too large or unsafe to open.
    """
    import fastexcel

    if file.data[:4] == ZIP_MAGIC:
        info = inspect_zip_workbook(file)
    else:
        check_ole_workbook(file)
        inspect_xls_workbook(file)
        info = WorkbookInfo()
    try:
        reader = fastexcel.read_excel(file.data)
    except BaseException as err:  # calamine raises its own types for damaged or protected files
        if not _reader_failure(err):
            raise
        raise InputError(_calamine_problem(err, file)) from None
    sheets = []
    for name in reader.sheet_names:
        if name in info.skipped:
            continue
        try:
            sheet = reader.load_sheet(name, header_row=None, skip_rows=0, dtypes="string")
            if sheet.visible != "visible":
                continue
            batch, errors = sheet.to_arrow_with_errors()
            columns = [column.absolute_index for column in sheet.available_columns()]
        except BaseException as err:  # calamine raises its own types for a damaged sheet
            if not _reader_failure(err):
                raise
            raise InputError(f"sheet '{name}' of the workbook cannot be read: {_first_line(err)}") from None
        raw = pl.from_arrow(batch)
        assert isinstance(raw, pl.DataFrame)
        if errors is not None and errors.errors:
            raw = _restore_errors(raw, errors.errors)
        scan = info.sheets.get(name, SheetScan())
        raw, merged = _fill_merged(raw, columns, scan)
        position = {absolute: i for i, absolute in enumerate(columns)}
        unsaved = tuple((row, position.get(col), cell_ref(row, col)) for row, col in scan.unsaved_formulas)
        sheets.append(
            Sheet(
                file=file.name,
                name=name,
                cells=_clean(raw),
                epoch1904=info.date1904,
                merged=merged,
                unsaved_formulas=unsaved,
                unsaved_total=scan.unsaved_total,
            )
        )
    return sheets


def _reader_failure(err: BaseException) -> bool:
    """Whether ``err`` is the reader failing on the file (an error or a Rust panic), not an interrupt.

    A panic inside calamine reaches Python as ``pyo3_runtime.PanicException``, which derives
    from BaseException so that ``except Exception`` does not catch it; for an upload it is
    one more damaged file.
    """
    return isinstance(err, Exception) or type(err).__name__ == "PanicException"


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def _calamine_problem(err: BaseException, file: SourceFile) -> str:
    """A message for a workbook calamine cannot open (its own text is one line, for programmers)."""
    text = str(err).lower()
    if "password" in text or "encrypt" in text:
        return PASSWORD_PROTECTED
    if file.data[:8] == OLE_MAGIC:
        return (
            "the file cannot be read as an Excel workbook: it may be damaged, protected with a password, "
            "or another Office document (Word, Outlook) renamed"
        )
    return f"the workbook is damaged and cannot be opened ({_first_line(err)})"


def _fill_merged(raw: pl.DataFrame, columns: list[int], scan: SheetScan) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """Give each row of a merged range the value of its top cell, in the range's first column.

    Excel keeps a merged range's value in its top-left cell only, but shows it across the
    range: a project name merged down over its milestones belongs to each of them.  Ranges
    within one row (a wide title) are left alone.  Returns the frame and the ranges filled.
    """
    position = {absolute: i for i, absolute in enumerate(columns)}
    sources: dict[int, np.ndarray] = {}
    filled = []
    for area in scan.merged:
        i = position.get(area.first_col)
        top, last = area.first_row - 1, min(area.last_row, raw.height) - 1  # calamine rows are 0-based
        if i is None or last <= top or top < 0 or raw[:, i][top] is None:
            continue
        source = sources.setdefault(i, np.arange(raw.height))
        source[top : last + 1] = top
        filled.append(area.ref)
    if not sources:
        return raw, ()
    return raw.with_columns(raw[:, i].gather(source) for i, source in sources.items()), tuple(filled)


def _restore_errors(raw: pl.DataFrame, errors: list) -> pl.DataFrame:
    """Put the Excel error text back into cells calamine could not turn into text."""
    columns = {name: raw[name].to_list() for name in raw.columns}
    for error in errors:
        row, col = error.position
        kind = re.search(r"Error\((\w+)\)", error.detail)
        text = _CALAMINE_ERRORS.get(kind.group(1), "#" + kind.group(1).upper()) if kind else "#ERROR"
        columns[raw.columns[col]][row] = text
    return pl.DataFrame(columns, schema=raw.schema)
