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
import zipfile

import polars as pl

from kpi_engine.errors import InputError
from kpi_engine.ingest.model import Sheet, SourceFile

DELIMITERS = (",", ";", "\t", "|")
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb")
TEXT_SUFFIXES = (".csv", ".txt", ".tsv")

#: A workbook may not unpack to more than this (calamine has no limit of its own).
MAX_UNPACKED_BYTES = 1_500_000_000
#: ... nor unpack a large part at a ratio above this (worksheets compress 10-100 times;
#: bombs reach deflate's limit of about 1000).
MAX_RATIO = 500

_SAMPLE = 65_536
_CALAMINE_ERRORS = {
    "NA": "#N/A", "Div0": "#DIV/0!", "Value": "#VALUE!", "Ref": "#REF!", "Name": "#NAME?",
    "Num": "#NUM!", "Null": "#NULL!", "GettingData": "#GETTING_DATA",
}


def is_workbook(data: bytes) -> bool:
    """True for xlsx/xlsm/xlsb (zip) and legacy xls (OLE) content, whatever the file is called."""
    return data[:4] == b"PK\x03\x04" or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def read_sheets(file: SourceFile) -> list[Sheet]:
    """Read one file into its sheets: a CSV is one sheet named after the file stem.

    Workbooks give their visible sheets, in workbook order.
    """
    if is_workbook(file.data):
        return read_workbook(file)
    return [read_csv(file)]


# --------------------------------------------------------------------------- CSV


def decode(data: bytes, *, assume_utf8: bool = False) -> bytes:
    """Return the text of a CSV file as UTF-8 bytes without BOM.

    UTF-8 (with or without BOM), UTF-16 LE/BE (BOM, or NUL-byte pattern without one),
    else Windows-1252 (the encoding Excel writes "CSV" in on Western Windows), else
    Latin-1 (which decodes anything).  With ``assume_utf8`` a file without BOM is returned
    as is, for a reader that validates UTF-8 itself (polars does, and fails loudly).
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[3:]
    for bom, name in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            return data[2:].decode(name).encode("utf-8")
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
            raw = _read_ragged(decode(data).decode("utf-8"), delim)
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


def _read_ragged(text: str, delim: str) -> pl.DataFrame:
    """The fallback for records of different lengths (title lines, stray delimiters): pad, never cut."""
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delim, quotechar='"'))
    width = max((len(r) for r in rows), default=0)
    columns = {
        f"column_{i}": [r[i] if i < len(r) else None for r in rows] for i in range(width)
    }
    return pl.DataFrame(columns, schema={name: pl.String for name in columns})


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


def _workbook_info(file: SourceFile) -> tuple[bool, set[str]]:
    """For a zip workbook: its date1904 flag and the names of hidden sheets.

    Also refuses archives that would unpack to something huge before calamine opens them.
    """
    from defusedxml import ElementTree

    try:
        archive = zipfile.ZipFile(io.BytesIO(file.data))
    except zipfile.BadZipFile:
        raise InputError("the workbook is damaged and cannot be opened") from None
    with archive:
        infos = archive.infolist()
        total = sum(i.file_size for i in infos)
        worst = max((i.file_size / max(i.compress_size, 1) for i in infos if i.file_size > 1_000_000), default=0)
        if total > MAX_UNPACKED_BYTES or worst > MAX_RATIO:
            raise InputError(
                f"the workbook unpacks to {total / 1e6:,.0f} MB, more than can be read safely; "
                "split it or export the sheets as CSV"
            )
        names = {i.filename for i in infos}
        if "xl/workbook.xml" not in names:
            return False, set()  # xlsb keeps a binary workbook part; calamine handles its dates
        root = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    ns = {"m": root.tag[1:].split("}")[0]} if root.tag.startswith("{") else {"m": ""}
    pr = root.find("m:workbookPr", ns)
    date1904 = pr is not None and pr.get("date1904", "0").lower() in ("1", "true")
    hidden = {
        s.get("name", "")
        for s in root.iterfind("m:sheets/m:sheet", ns)
        if s.get("state", "visible") in ("hidden", "veryHidden")
    }
    return date1904, hidden


def read_workbook(file: SourceFile) -> list[Sheet]:
    """Read the visible sheets of a workbook as text cells through calamine (fastexcel).

    Date cells arrive as ISO date-times; calamine applies the 1904 system to them itself,
    and ``Sheet.epoch1904`` tells the date parser how to read plain serial numbers.
    Cells showing an Excel error (``#N/A``) keep that text so they are reported, not lost.
    Number cells arrive as calamine writes them, rounded to 9 decimal places (ample for
    money, KPI values and percentages; reading them as text keeps a column of mixed
    numbers and words whole instead of losing the words).
    """
    import fastexcel

    date1904, hidden = _workbook_info(file) if file.data[:4] == b"PK\x03\x04" else (False, set())
    try:
        reader = fastexcel.read_excel(file.data)
    except Exception as err:  # calamine raises its own types for damaged or protected files
        raise InputError(f"the workbook cannot be read ({err})") from None
    sheets = []
    for name in reader.sheet_names:
        if name in hidden:
            continue
        sheet = reader.load_sheet(name, header_row=None, skip_rows=0, dtypes="string")
        if sheet.visible != "visible":
            continue
        batch, errors = sheet.to_arrow_with_errors()
        raw = pl.from_arrow(batch)
        assert isinstance(raw, pl.DataFrame)
        if errors is not None and errors.errors:
            raw = _restore_errors(raw, errors.errors)
        sheets.append(Sheet(file=file.name, name=name, cells=_clean(raw), epoch1904=date1904))
    return sheets


def _restore_errors(raw: pl.DataFrame, errors: list) -> pl.DataFrame:
    """Put the Excel error text back into cells calamine could not turn into text."""
    columns = {name: raw[name].to_list() for name in raw.columns}
    for error in errors:
        row, col = error.position
        kind = re.search(r"Error\((\w+)\)", error.detail)
        text = _CALAMINE_ERRORS.get(kind.group(1), "#" + kind.group(1).upper()) if kind else "#ERROR"
        columns[raw.columns[col]][row] = text
    return pl.DataFrame(columns, schema=raw.schema)
