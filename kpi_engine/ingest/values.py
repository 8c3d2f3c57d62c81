"""Column-wise conversion of text cells to numbers, flags and ids (vectorised).

Every function takes a text column and returns the converted values; a value that was
not blank but converts to null is a problem the caller reports, quoting the text.
"""

from __future__ import annotations

import polars as pl

#: An Excel error a formula left in a cell (``#N/A`` from a failed lookup, ...).
EXCEL_ERROR = r"^#(?:N/A|DIV/0!|VALUE!|REF!|NAME\?|NUM!|NULL!|SPILL!|CALC!|GETTING_DATA|FIELD!|BLOCKED!|UNKNOWN!)$"

#: A long number Excel displayed (and saved) in scientific notation, e.g. ``1.21143E+15``.
ROUNDED_ID = r"^[0-9](?:[.,][0-9]+)?[eE]\+[0-9]{1,2}$"

ROUNDED_ID_MESSAGE = "Excel has rounded this 16-digit id; re-export without opening in Excel"

_CURRENCY = r"[$€£¥₹]|\b(?:USD|EUR|GBP|CHF|JPY|CAD|AUD|SEK|NOK|DKK|INR)\b"
_SPACES = r"[\s\u00a0\u202f']"
_THOUSANDS_DOT = r"^[+-]?\d{1,3}(?:\.\d{3})+(?:,\d*)?$"
_THOUSANDS_COMMA = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$"

_TRUE = ("yes", "y", "true", "1", "x", "checked", "✓", "✔", "ja", "oui", "si", "sí")
_FALSE = ("no", "n", "false", "0", "unchecked", "nein", "non")


def to_number(text: pl.Expr, *, decimal_comma: bool = False) -> pl.Expr:
    """Convert text to Float64, accepting the ways people write numbers.

    Accepts thousands separators (``1,200,000``; ``1.200.000,50`` and ``2,5`` when
    ``decimal_comma``), spaces, a trailing ``%`` (``80%`` -> 80), currency symbols or codes
    (``$ 1,200``, ``1 200 EUR``) and accounting negatives ``(1,200)``.  In a decimal-comma
    file a dot followed by exactly three digits groups thousands (``1.200`` = 1200) while
    other dots are decimal points (``2.10``).  Anything else, and infinities, give null.
    """
    fast = text.cast(pl.Float64, strict=False)
    cleaned = (
        text.str.replace(r"^\((.*)\)$", "-$1")
        .str.replace_all(_CURRENCY, "")
        .str.replace(r"%$", "")
        .str.replace_all(_SPACES, "")
    )
    if decimal_comma:
        cleaned = (
            pl.when(cleaned.str.contains(_THOUSANDS_DOT))
            .then(cleaned.str.replace_all(".", "", literal=True))
            .otherwise(cleaned)
        )
        decimal = cleaned.str.contains(r"^[+-]?\d*,\d+$")
        cleaned = pl.when(decimal).then(cleaned.str.replace(",", ".", literal=True)).otherwise(cleaned)
        value = cleaned.cast(pl.Float64, strict=False)
    else:
        cleaned = (
            pl.when(cleaned.str.contains(_THOUSANDS_COMMA))
            .then(cleaned.str.replace_all(",", "", literal=True))
            .otherwise(cleaned)
        )
        # most cells are plain numbers: the regex work above only decides the rest
        value = pl.coalesce(fast, cleaned.cast(pl.Float64, strict=False))
    return pl.when(value.is_finite()).then(value)


def parse_numbers(text: pl.Series, *, decimal_comma: bool = False) -> pl.Series:
    """:func:`to_number` on a column, with the cleaning applied only to cells that need it.

    Plain numbers (nearly all cells of a large file) convert in one cast; only the cells
    that fail it (and, in a decimal-comma file, the cells holding a dot or comma) go
    through the regex cleaning.
    """
    values = text.cast(pl.Float64, strict=False)
    todo = values.is_null() & text.is_not_null()
    if decimal_comma:
        todo = todo | text.str.contains(r"[.,]").fill_null(False)
    values = pl.select(pl.when(values.is_finite()).then(values)).to_series().alias(text.name)
    idx = todo.arg_true()
    if idx.len():
        fixed = pl.select(to_number(pl.lit(text.gather(idx)), decimal_comma=decimal_comma)).to_series()
        values = values.scatter(idx, fixed)
    return values


def to_flag(text: pl.Expr) -> pl.Expr:
    """Convert Yes/No, true/false, 1/0, x and checkbox text to Boolean (null when unrecognised or blank)."""
    key = text.str.to_lowercase()
    return pl.when(key.is_in(_TRUE)).then(True).when(key.is_in(_FALSE)).then(False).otherwise(None)


def is_flag_text(text: pl.Expr) -> pl.Expr:
    """True where the text is a recognised Yes/No value (blank counts as recognised)."""
    return text.is_null() | text.str.to_lowercase().is_in(_TRUE + _FALSE)


def is_excel_error(text: pl.Expr) -> pl.Expr:
    """True where a cell holds an Excel error such as ``#N/A``."""
    return text.str.contains(EXCEL_ERROR).fill_null(False)


def is_rounded_id(text: pl.Expr) -> pl.Expr:
    """True where an id cell holds a long number Excel rewrote in scientific notation."""
    return text.str.contains(ROUNDED_ID).fill_null(False)


def split_list(text: pl.Expr, separators: str = ",;") -> pl.Expr:
    """Split a cell holding a list (``a, b; c``) into stripped, non-empty items."""
    pattern = "[" + "".join("\\" + s if s in "\\]^-" else s for s in separators) + "]"
    return (
        text.str.replace_all(pattern, "\x1f")
        .str.split("\x1f")
        .list.eval(pl.element().str.strip_chars())
        .list.eval(pl.element().filter(pl.element() != ""))
    )
