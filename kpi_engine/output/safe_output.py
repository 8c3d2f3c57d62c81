"""Output safety shared by every CSV and XLSX file the product writes.

A spreadsheet runs text that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some
programs, tab or carriage return) as a formula: an uploaded milestone named
``=HYPERLINK("http://evil", "click")`` would become a live link in the board's copy.
Every text cell leaving the product therefore passes through :func:`neutralise` (one
value) or :func:`safe_frame` (a whole frame, vectorised), which

- strips characters an XLSX file cannot hold (control characters other than tab, line
  feed and carriage return; U+FFFE, U+FFFF; lone surrogates),
- prefixes a single quote ``'`` to text starting with one of :data:`FORMULA_TRIGGERS`
  (the OWASP recommendation: the quote shows, and no program evaluates the cell),
- caps the text at Excel's 32,767 characters per cell.

Numbers, dates and booleans are never touched: only text cells can carry a formula.
CSV files are UTF-8 with a byte-order mark so Excel opens accented names correctly;
workbooks are written by xlsxwriter with ``strings_to_formulas`` and ``strings_to_urls``
off, so even a string that slipped through is stored as plain text.

>>> neutralise("=1+1")
"'=1+1"
>>> neutralise("Fleet\\x00 routing")
'Fleet routing'
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import polars as pl

from kpi_engine.core.errors import OutputError
from kpi_engine.core.rag import RAG_COLOURS, rag_text_colour

#: Leading characters that make a spreadsheet treat text as a formula.
FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

#: Most characters one Excel cell holds.
EXCEL_CELL_LIMIT = 32_767

#: Rows in one Excel sheet, header included.
EXCEL_MAX_ROWS = 1_048_576

#: xlsxwriter options every workbook is created with (see the module docstring).
WORKBOOK_OPTIONS: dict[str, Any] = {
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "nan_inf_to_errors": True,
    "remove_timezone": True,
    "in_memory": True,
}

#: Columns whose text is a RAG status; exports fill them with :data:`RAG_COLOURS`.
STATUS_COLUMNS = frozenset({"computed_status", "reported_status", "previous_status", "status"})

#: Columns holding money (exact names), besides any name ending in ``value_at_risk`` or ``_cost``.
MONEY_COLUMNS = frozenset({"value_per_week", "budget", "cost", "recovered_value", "net_value"})

DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
TIME_FORMAT = "hh:mm:ss"
INTEGER_FORMAT = "#,##0"
#: Up to four decimals, at least one: 2.0179 -> "2.0179", 95 -> "95.0", 1234.5 -> "1,234.5".
DECIMAL_FORMAT = "#,##0.0###"

# Python side: Python text may hold lone surrogates, which UTF-8 (and so Polars) cannot.
_ILLEGAL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# Polars (Rust regex) side: the same characters minus surrogates, which cannot occur there.
_ILLEGAL_PATTERN = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x{FFFE}\x{FFFF}]"
_TRIGGER_PATTERN = r"^[=+\-@\t\r]"

_HEADER = {
    "bold": True,
    "font_color": "#FFFFFF",
    "bg_color": "#1F3864",
    "pattern": 1,
    "text_wrap": True,
    "valign": "top",
    "bottom": 1,
}
_MIN_WIDTH, _MAX_WIDTH = 6.0, 60.0


def neutralise(value: str) -> str:
    """Return ``value`` safe for a spreadsheet cell.

    Strips characters a workbook cannot hold, prefixes ``'`` when the text starts with
    one of :data:`FORMULA_TRIGGERS` (after stripping), and caps it at 32,767 characters.

    Parameters
    ----------
    value
        Text from a text column or a sentence; never a number from a numeric column.

    Examples
    --------
    >>> neutralise("@SUM(A1)")
    "'@SUM(A1)"
    >>> neutralise("Cost per mile")
    'Cost per mile'
    """
    text = _ILLEGAL_RE.sub("", value)
    if text.startswith(FORMULA_TRIGGERS):
        text = "'" + text
    return text[:EXCEL_CELL_LIMIT]


def safe_text(text: pl.Expr) -> pl.Expr:
    """Vectorised :func:`neutralise` of a String expression (nulls stay null)."""
    # One regex replacement each for stripping and quoting: measurably faster than
    # when/then over the whole column, and the same result.
    cleaned = text.str.replace_all(_ILLEGAL_PATTERN, "")
    return cleaned.str.replace(_TRIGGER_PATTERN, "'$0").str.slice(0, EXCEL_CELL_LIMIT)


def _is_text(dtype: pl.DataType) -> bool:
    return dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))


def safe_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Neutralise every text column of ``frame`` (String, Categorical, Enum) at once.

    Categorical and Enum columns come back as String: a quoted value may not be one of
    an Enum's categories. Other columns are returned unchanged, as are column names.

    Parameters
    ----------
    frame
        Any frame about to be written to a file a spreadsheet may open.
    """
    text = [name for name, dtype in frame.schema.items() if _is_text(dtype)]
    if not text:
        return frame
    return frame.with_columns(safe_text(pl.col(name).cast(pl.String)).alias(name) for name in text)


def _as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """Turn a value no file format holds natively (lists, structs, bytes...) into text."""
    column = pl.col(name)
    if isinstance(dtype, pl.Array):
        column, dtype = column.cast(pl.List(dtype.inner)), pl.List(dtype.inner)
    if isinstance(dtype, pl.List) and not dtype.inner.is_nested():
        return column.list.eval(pl.element().cast(pl.String)).list.join("; ")
    if isinstance(dtype, pl.Struct):
        return column.struct.json_encode()
    if dtype == pl.Binary:
        return column.bin.encode("hex")
    if isinstance(dtype, pl.Duration):
        return column.dt.to_string("iso")
    return column.map_elements(str, return_dtype=pl.String, skip_nulls=True)


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    """Return ``frame`` with plain cell types only: text, numbers, booleans, dates and times."""
    changes = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Decimal):
            changes.append(pl.col(name).cast(pl.Float64))
        elif dtype.is_nested() or dtype in (pl.Binary, pl.Object) or isinstance(dtype, pl.Duration):
            changes.append(_as_text(name, dtype).alias(name))
    return frame.with_columns(changes) if changes else frame


def _plain(frame: pl.DataFrame) -> pl.DataFrame:
    """Return ``frame`` ready for a file: flat types, neutralised text, NaN as blank."""
    frame = safe_frame(_flat(frame))
    floats = [name for name, dtype in frame.schema.items() if dtype.is_float()]
    return frame.with_columns(pl.col(floats).fill_nan(None)) if floats else frame


def _unique_names(names: Iterable[str]) -> list[str]:
    """Neutralise header names, keeping them distinct (Polars needs distinct names)."""
    seen: set[str] = set()
    result = []
    for name in names:
        candidate, n = neutralise(name), 2
        while candidate in seen:
            candidate, n = f"{neutralise(name)} ({n})", n + 1
        seen.add(candidate)
        result.append(candidate)
    return result


#: Columns holding a KPI's value or a movement of it: exported at the precision the pages show.
KPI_VALUE_COLUMNS = frozenset(
    {
        "value",
        "actual_value",
        "baseline_value",
        "target_value",
        "projected",
        "projected_before",
        "projected_after",
        "shortfall",
        "change",
        "p10",
        "p50",
        "p80",
        "p90",
        "p95",
    }
)


def tidy_numbers(frame: pl.DataFrame) -> pl.DataFrame:
    """Return ``frame`` with the float noise of arithmetic taken out, for people's files.

    Money to the cent (``399999.98999999993`` -> ``399999.99``), KPI values to the
    precision the pages show (2.0179 -> 2.018, 95.04 -> 95.0, 1234.5 -> 1235), other
    decimals to six places; never a negative zero.

    >>> tidy_numbers(pl.DataFrame({"value_at_risk": [399999.98999999993], "kpi_impact": [-0.0]})).rows()
    [(399999.99, 0.0)]
    """
    changes = []
    for name, dtype in frame.schema.items():
        if not dtype.is_float():
            continue
        column = pl.col(name)
        if is_money(name) or name.startswith("value_at_risk"):
            rounded = column.round(2)
        elif name in KPI_VALUE_COLUMNS or name.startswith("kpi_"):
            size = column.abs()
            rounded = (
                pl.when(size < 10)
                .then(column.round(3))
                .when(size < 1000)
                .then(column.round(1))
                .otherwise(column.round(0))
            )
        else:
            rounded = column.round(6)
        changes.append(pl.when(rounded == 0).then(pl.lit(0.0, dtype)).otherwise(rounded).cast(dtype).alias(name))
    return frame.with_columns(changes) if changes else frame


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """Return ``frame`` as CSV bytes Excel opens safely.

    UTF-8 with a byte-order mark, CRLF line ends, dates as ``YYYY-MM-DD``, blanks for
    missing values (NaN included), every text cell and header neutralised; nested
    values (lists, structs) become text.

    Parameters
    ----------
    frame
        The rows to write.
    """
    safe = _plain(frame)
    safe = safe.rename(dict(zip(safe.columns, _unique_names(safe.columns), strict=True)))
    buffer = io.BytesIO()
    safe.write_csv(buffer, include_bom=True, line_terminator="\r\n", date_format="%Y-%m-%d")
    return buffer.getvalue()


def write_csv(frame: pl.DataFrame, path_or_buffer: str | Path | IO[bytes] | IO[str]) -> None:
    """Write ``frame`` as safe CSV (see :func:`csv_bytes`) to a path or an open file.

    Raises
    ------
    OutputError
        When the file cannot be written (missing folder, no permission, open elsewhere).
    """
    data = csv_bytes(frame)
    if isinstance(path_or_buffer, (str, Path)):
        write_bytes(Path(path_or_buffer), data)
    elif isinstance(path_or_buffer, io.TextIOBase):
        path_or_buffer.write(data.decode("utf-8"))
    else:
        path_or_buffer.write(data)  # type: ignore[arg-type]  # what is left is a binary buffer


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all.

    Raises
    ------
    OutputError
        With a message a person can act on: missing folder, file open in another
        program, no permission.
    """
    if not path.parent.is_dir():
        raise OutputError(f"cannot write {path}: the folder {path.parent} does not exist")
    # A half-written report is worse than none: write beside it, then swap in one step.
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    except PermissionError:
        partial.unlink(missing_ok=True)
        raise OutputError(
            f"cannot write {path}: the file is open in another program or the folder is read-only; "
            "close the file and try again"
        ) from None
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {err.strerror or err}") from None


# --- XLSX ---------------------------------------------------------------------------------


def new_workbook(target: IO[bytes]) -> Any:
    """Create an xlsxwriter workbook writing to ``target`` with :data:`WORKBOOK_OPTIONS`."""
    import xlsxwriter  # only the commands that write workbooks pay for the import

    return xlsxwriter.Workbook(target, WORKBOOK_OPTIONS)


class Formats:
    """xlsxwriter cell formats of one workbook, created once per distinct set of properties.

    Parameters
    ----------
    workbook
        The xlsxwriter workbook the formats belong to.
    """

    def __init__(self, workbook: Any) -> None:
        self._workbook = workbook
        self._cache: dict[tuple[tuple[str, Any], ...], Any] = {}

    def get(self, **properties: Any) -> Any:
        """Return the format with exactly these xlsxwriter properties."""
        key = tuple(sorted(properties.items()))
        if key not in self._cache:
            self._cache[key] = self._workbook.add_format(dict(properties))
        return self._cache[key]

    @property
    def header(self) -> Any:
        """The header-row format: bold white on dark blue, wrapped."""
        return self.get(**_HEADER)

    def rag(self, status: str, **properties: Any) -> Any:
        """Return ``properties`` plus the fill and text colour of ``status``."""
        return self.get(**properties, pattern=1, bg_color=RAG_COLOURS[status], font_color=rag_text_colour(status))


def money_format(currency: str | None = None) -> str:
    """Return the Excel number format for money: ``#,##0 "USD"`` (or ``#,##0`` with no currency)."""
    code = (currency or "").replace('"', "").replace("\\", "").strip()
    return f'#,##0 "{code}"' if code else INTEGER_FORMAT


def is_money(name: str) -> bool:
    """Whether a column named ``name`` holds money (see :data:`MONEY_COLUMNS`)."""
    return name in MONEY_COLUMNS or name.endswith("value_at_risk") or name.endswith("_cost")


def default_number_format(name: str, dtype: pl.DataType, currency: str | None = None) -> str | None:
    """Return the Excel number format a column gets unless told otherwise (None: General)."""
    if dtype == pl.Date:
        return DATE_FORMAT
    if isinstance(dtype, pl.Datetime):
        return DATETIME_FORMAT
    if dtype == pl.Time:
        return TIME_FORMAT
    if dtype.is_numeric() and is_money(name):
        return money_format(currency)
    if dtype.is_integer():
        # Identifiers and years read wrong with a thousands separator ("2,026").
        return "0" if name.endswith("id") or name.endswith("year") else INTEGER_FORMAT
    if dtype.is_float() or isinstance(dtype, pl.Decimal):
        return DECIMAL_FORMAT
    return None


def column_widths(frame: pl.DataFrame, labels: Mapping[str, str] | None = None) -> dict[str, float]:
    """Return column name -> width (characters) fitting its header and longest value.

    For sheets laid out in pieces (several :func:`write_frame` calls), so every piece
    shares the widths fitted on all rows.
    """
    return _widths(_plain(frame), labels or {})


def _widths(frame: pl.DataFrame, labels: Mapping[str, str]) -> dict[str, float]:
    """Column widths (characters) fitting the header and the longest value, within limits."""
    if frame.width == 0:
        return {}
    lengths = (
        frame.select(
            pl.col(name).cast(pl.String).str.len_chars().max().fill_null(0).alias(name) for name in frame.columns
        ).row(0, named=True)
        if frame.height
        else dict.fromkeys(frame.columns, 0)
    )
    widths = {}
    for name, dtype in frame.schema.items():
        longest = float(lengths[name] or 0)
        if dtype.is_numeric():
            longest += longest // 3 + 2  # thousands separators and a currency code
        elif dtype == pl.Date:
            longest = 10
        # The header wraps, so half its length is enough; the filter arrow needs ~3 more.
        header = len(labels.get(name, name)) / 2 + 3
        widths[name] = min(_MAX_WIDTH, max(_MIN_WIDTH, longest + 2, header))
    return widths


def write_frame(
    worksheet: Any,
    frame: pl.DataFrame,
    formats: Formats,
    *,
    row: int = 0,
    labels: Mapping[str, str] | None = None,
    number_formats: Mapping[str, str] | None = None,
    widths: Mapping[str, float] | None = None,
    wrap: Iterable[str] = (),
    fills: Mapping[str, pl.Expr] | None = None,
    currency: str | None = None,
    header: bool = True,
    table: bool = True,
    fit_widths: bool = True,
) -> int:
    """Write ``frame`` as a formatted table into ``worksheet`` starting at ``row``.

    Parameters
    ----------
    worksheet, formats
        The xlsxwriter worksheet and the workbook's :class:`Formats`.
    row
        Zero-based row of the header (or of the first data row when ``header`` is False).
    labels
        Column name -> header text; other columns show their name.
    number_formats
        Column name -> Excel number format, overriding :func:`default_number_format`.
    widths
        Column name -> width in characters, overriding the fitted width.
    wrap
        Columns whose text wraps (columns with text longer than 60 characters always wrap).
    fills
        Column name -> expression on ``frame`` giving a RAG status (a key of
        :data:`RAG_COLOURS`) or null per row; the cell gets that status's fill.
    currency
        Currency code for money columns.
    header
        Write the header row.
    table
        Freeze the header and put a filter on it.
    fit_widths
        Set column widths (off when the sheet's layout already set them).

    Returns
    -------
    int
        The row after the last one written.

    Raises
    ------
    OutputError
        When the rows do not fit in one Excel sheet.
    """
    labels, number_formats, widths = labels or {}, number_formats or {}, widths or {}
    first = row + 1 if header else row
    if first + frame.height > EXCEL_MAX_ROWS:
        raise OutputError(
            f"{frame.height:,} rows do not fit in one Excel sheet (at most {EXCEL_MAX_ROWS - 1:,} below the "
            "header); filter the list or export it as CSV"
        )
    statuses = (
        frame.select(expr.cast(pl.String).alias(name) for name, expr in fills.items()) if fills else pl.DataFrame()
    )
    cells = _plain(frame)
    fitted = _widths(cells, labels)
    long_text = {name for name, width in fitted.items() if width >= _MAX_WIDTH and _is_text(cells.schema[name])}
    wrapped = set(wrap) | long_text
    for col, (name, dtype) in enumerate(cells.schema.items()):
        if header:
            worksheet.write_string(row, col, neutralise(labels.get(name, name)), formats.header)
        properties: dict[str, Any] = {"valign": "top"}
        number_format = number_formats.get(name) or default_number_format(name, dtype, currency)
        if number_format:
            properties["num_format"] = number_format
        if name in wrapped:
            properties["text_wrap"] = True
        values = cells[name].to_list()
        cell_format = formats.get(**properties)
        # Missing values stay empty cells: no blank cell to store and write out.
        for offset, value in enumerate(values):
            if value is not None:
                worksheet.write(first + offset, col, value, cell_format)
        if name in statuses.columns:
            for offset, status in enumerate(statuses[name].to_list()):
                if status in RAG_COLOURS:
                    worksheet.write(first + offset, col, values[offset], formats.rag(status, **properties))
        if fit_widths:
            worksheet.set_column(col, col, widths.get(name, fitted[name]))
    if header and table and cells.width:
        worksheet.freeze_panes(row + 1, 0)
        worksheet.autofilter(row, 0, row + max(cells.height, 0), cells.width - 1)
    return first + cells.height


_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\\x00-\x1f]")


def sheet_name(name: str, used: set[str]) -> str:
    """Return a sheet name Excel accepts, distinct (ignoring case) from ``used``, and record it.

    Excel sheet names have at most 31 characters, none of ``[]:*?/\\``, do not start or
    end with an apostrophe, and "History" is reserved.
    """
    base = _SHEET_NAME_FORBIDDEN.sub(" ", name).strip().strip("'").strip() or "Sheet"
    if base.lower() == "history":
        base = "History data"
    base = base[:31]
    candidate, n = base, 2
    while candidate.lower() in used:
        suffix = f" ({n})"
        candidate, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(candidate.lower())
    return candidate


def xlsx_bytes(
    frames: Mapping[str, pl.DataFrame], currency: str | None = None, labels: Mapping[str, str] | None = None
) -> bytes:
    """Return a plain, safe workbook with one formatted sheet per frame.

    Each sheet has a bold frozen header with a filter, fitted widths, dates as
    ``yyyy-mm-dd``, thousands separators, money formats on money columns and RAG fills on
    status columns. Used for exports of filtered lists.

    Parameters
    ----------
    frames
        Sheet name -> rows, in sheet order (names are made acceptable to Excel).
    currency
        Currency code shown on money columns.
    labels
        Column name -> header text (the words a page uses); other columns show their name.

    Raises
    ------
    OutputError
        When a frame has more rows than an Excel sheet holds.
    """
    buffer = io.BytesIO()
    workbook = new_workbook(buffer)
    formats = Formats(workbook)
    used: set[str] = set()
    for name, frame in frames.items():
        worksheet = workbook.add_worksheet(sheet_name(name, used))
        fills = {c: pl.col(c) for c, dtype in frame.schema.items() if c in STATUS_COLUMNS and _is_text(dtype)}
        write_frame(worksheet, frame, formats, fills=fills, currency=currency, labels=labels)
    if not frames:
        workbook.add_worksheet("Sheet1")
    workbook.close()
    return buffer.getvalue()
