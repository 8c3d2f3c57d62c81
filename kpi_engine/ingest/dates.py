"""Vectorised date parsing for every way the supported tools and people write dates.

Accepted, with or without a time of day (which is dropped: the model holds calendar dates):

- ISO ``2026-03-14``, ``2026-03-14 08:00:00``, ``2026-03-14T08:00Z``, ``2026/03/14``
- Excel serial numbers ``46095`` (1900 date system, or 1904 when the workbook says so)
- numeric day/month or month/day ``14/03/2026``, ``3/14/26``, ``14.03.2026``, with an optional
  weekday in front as MS Project writes them (``Mon 3/14/26``, ``3/14/26 8:00 AM``)
- month names ``14 March 2026``, ``14-Mar-2026``, Jira's ``11/May/24 03:26 PM``,
  ``March 14, 2026``
- ``NA`` and ``N/A`` (MS Project's "no date") are blank.

Day/month order is decided per column from the values (a first part above 12 means
day first, a second part above 12 means month first) and, for a column whose values
are all ambiguous, from the other date columns of the same sheet.  When nothing decides
it, the caller reports a problem: this module never guesses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

ORDERS = ("dmy", "mdy")

#: Text that means "no date" in a date column.
NO_DATE = ("na", "n/a")

_MONTHS: dict[str, int] = {}
for _number, _name in enumerate(
    (
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ),
    start=1,
):
    _MONTHS[_name] = _number
    _MONTHS[_name[:3]] = _number
_MONTHS["sept"] = 9

_TIME = r"(?:(?:[t ]+|\s*)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[ap]\.?m\.?)?\s*(?:z|[+-]\d{2}:?\d{2})?)?"
_WEEKDAY = r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?"
_ISO = rf"^(?<y>\d{{4}})[-/.](?<m>\d{{1,2}})[-/.](?<d>\d{{1,2}}){_TIME}$"
_SERIAL = r"^(?<n>\d{4,6})(?:\.\d+)?$"
_NUMERIC = rf"^{_WEEKDAY}(?<a>\d{{1,2}})[-/.](?<b>\d{{1,2}})[-/.](?<y>\d{{4}}|\d{{2}}){_TIME}$"
_NAMED_DAY_FIRST = rf"^{_WEEKDAY}(?<d>\d{{1,2}})(?:st|nd|rd|th)?[\s\-/.]+(?<mon>[a-z]{{3,9}})\.?[\s\-/.,]+(?<y>\d{{4}}|\d{{2}}){_TIME}$"
_NAMED_MONTH_FIRST = rf"^{_WEEKDAY}(?<mon>[a-z]{{3,9}})\.?[\s\-/.]+(?<d>\d{{1,2}})(?:st|nd|rd|th)?,?[\s\-/.]+(?<y>\d{{4}}|\d{{2}}){_TIME}$"

#: Excel serials accepted in a date column: 1927-05-18 .. 2173-10-14 in the 1900 system.
#: Smaller or larger numbers are far more likely a typo than a date.
SERIAL_RANGE = (10_000, 100_000)
_EPOCH_1900 = date(1899, 12, 30)  # serial 1 = 1900-01-01 after Excel's 1900 leap-year bug
_EPOCH_1904 = date(1904, 1, 1)


@dataclass(frozen=True)
class Evidence:
    """What the numeric dates of one column say about their day/month order.

    Each field holds an example value, or None when no value shows it.
    """

    day_first: str | None
    month_first: str | None
    ambiguous: str | None

    @property
    def decided(self) -> str | None:
        if self.day_first and not self.month_first:
            return "dmy"
        if self.month_first and not self.day_first:
            return "mdy"
        return None


@dataclass(frozen=True)
class ParsedDates:
    """One column of dates: values, which cells were not dates, and an order problem if any."""

    dates: pl.Series
    bad: pl.Series
    order_problem: str | None = None


def _year(y: pl.Expr) -> pl.Expr:
    y = y.cast(pl.Int32)
    # two-digit years as exports write them (MS Project 3/14/26, Jira 11/May/24)
    return pl.when(y < 70).then(y + 2000).when(y < 100).then(y + 1900).otherwise(y)


def _assemble(y: pl.Expr, m: pl.Expr, d: pl.Expr) -> pl.Expr:
    """Build a date from parts; impossible dates (month 13, 30 February) give null."""
    text = pl.format(
        "{}-{}-{}",
        y.cast(pl.String).str.zfill(4),
        m.cast(pl.String).str.zfill(2),
        d.cast(pl.String).str.zfill(2),
    )
    return text.str.to_date("%Y-%m-%d", strict=False)


class DateParts:
    """The pieces of a text column's dates, before the day/month order is chosen."""

    def __init__(self, text: pl.Series, *, epoch1904: bool = False) -> None:
        # most cells are plain ISO dates: one vectorised parse; the rest (NA, ISO date-times
        # from workbooks, other forms) are looked at on their own, much smaller, subset
        quick = text.str.to_date("%Y-%m-%d", strict=False)
        blank = text.is_null()
        todo = (~blank & quick.is_null()).arg_true()
        if todo.len():
            na = text.gather(todo).str.to_lowercase().is_in(NO_DATE)
            blank = blank.scatter(todo.filter(na), True)
            todo = todo.filter(~na)
        if todo.len():
            stamped = text.gather(todo).str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False).dt.date()
            quick = quick.scatter(todo, stamped)
            todo = todo.filter(stamped.is_null())
        self.text = text
        self.blank = blank
        self.quick = quick
        self.rest = self._parts(text.gather(todo), epoch1904).with_columns(_idx=todo)

    @staticmethod
    def _parts(text: pl.Series, epoch1904: bool) -> pl.DataFrame:
        lowered = pl.col("t").str.to_lowercase().str.strip_chars()
        frame = pl.DataFrame({"t": text}).with_columns(
            iso=lowered.str.extract_groups(_ISO),
            serial=lowered.str.extract(_SERIAL, 1).cast(pl.Int64, strict=False),
            num=lowered.str.extract_groups(_NUMERIC),
            dm=lowered.str.extract_groups(_NAMED_DAY_FIRST),
            md=lowered.str.extract_groups(_NAMED_MONTH_FIRST),
        )
        epoch = _EPOCH_1904 if epoch1904 else _EPOCH_1900
        low, high = SERIAL_RANGE
        serial = pl.col("serial")
        month_word = pl.coalesce(pl.col("dm").struct.field("mon"), pl.col("md").struct.field("mon"))
        return frame.select(
            "t",
            fixed=pl.coalesce(
                _assemble(
                    pl.col("iso").struct.field("y"), pl.col("iso").struct.field("m"), pl.col("iso").struct.field("d")
                ),
                pl.when((serial >= low) & (serial < high)).then(pl.lit(epoch) + pl.duration(days=serial)),
                _assemble(
                    _year(pl.coalesce(pl.col("dm").struct.field("y"), pl.col("md").struct.field("y"))),
                    month_word.replace_strict(_MONTHS, default=None, return_dtype=pl.Int32),
                    pl.coalesce(pl.col("dm").struct.field("d"), pl.col("md").struct.field("d")).cast(pl.Int32),
                ),
            ).cast(pl.Date),
            a=pl.col("num").struct.field("a").cast(pl.Int32),
            b=pl.col("num").struct.field("b").cast(pl.Int32),
            y=_year(pl.col("num").struct.field("y")),
        )

    def evidence(self) -> Evidence:
        """Examples of day-first, month-first and ambiguous numeric dates in the column."""
        rest = self.rest.filter(pl.col("fixed").is_null() & pl.col("a").is_not_null())

        def first(mask: pl.Expr) -> str | None:
            hit = rest.filter(mask)
            return hit.item(0, "t") if hit.height else None

        a, b = pl.col("a"), pl.col("b")
        return Evidence(
            day_first=first((a > 12) & (b <= 12)),
            month_first=first((b > 12) & (a <= 12)),
            ambiguous=first((a <= 12) & (b <= 12) & (a != b)),
        )

    def finish(self, order: str | None) -> tuple[pl.Series, pl.Series]:
        """Dates (Date) and a mask of non-blank cells that are not dates, with ``order`` for numeric dates.

        ``order`` None reads each numeric date by the only order that makes it valid;
        callers pass None only when no ambiguous value is left.
        """
        a, b = pl.col("a"), pl.col("b")
        if order == "dmy":
            day, month = a, b
        elif order == "mdy":
            day, month = b, a
        else:
            day = pl.when(a > 12).then(a).otherwise(b)
            month = pl.when(a > 12).then(b).otherwise(a)
        rest = self.rest.select("_idx", value=pl.coalesce(pl.col("fixed"), _assemble(pl.col("y"), month, day)))
        dates = self.quick.clone()
        if rest.height:
            dates = dates.scatter(rest["_idx"], rest["value"])
        bad = ~self.blank & dates.is_null()
        return dates.alias(self.text.name), bad.alias(self.text.name)


def ambiguous_message(example: str) -> str:
    """The problem text for a column whose day/month order nothing decides."""
    return (
        f"dates such as '{example}' could be day/month or month/day; use ISO dates (YYYY-MM-DD) "
        "or give the date order (dmy or mdy) in a column mapping"
    )


def mixed_message(day_first: str, month_first: str) -> str:
    """The problem text for a column that mixes both orders."""
    return (
        f"this column mixes day/month dates ('{day_first}') and month/day dates ('{month_first}'); "
        "use one order or ISO dates (YYYY-MM-DD)"
    )


def bad_date_message(value: pl.Expr) -> pl.Expr:
    """The problem text for one cell that is not a date, quoting it."""
    return pl.format("'{}' is not a date; write dates as YYYY-MM-DD", value)


def parse_date_columns(
    columns: dict[str, pl.Series], *, order: str | None = None, epoch1904: bool = False
) -> dict[str, ParsedDates]:
    """Parse the date columns of one sheet together.

    Parameters
    ----------
    columns
        name -> text column (nulls are blank cells).
    order
        'dmy' or 'mdy' to impose an order, or None to decide it from the values:
        per column, and for a column of only ambiguous values from the other columns
        of the sheet when those agree.
    epoch1904
        Read Excel serial numbers in the 1904 date system (Mac workbooks).

    Returns
    -------
    dict
        name -> ParsedDates; ``order_problem`` is set (and ``dates`` of that column's
        numeric values left null, not flagged per row) when the order is mixed or undecidable.
    """
    if order is not None and order not in ORDERS:
        raise ValueError(f"date order must be one of {ORDERS}, got {order!r}")
    parts = {name: DateParts(text, epoch1904=epoch1904) for name, text in columns.items()}
    evidence = {name: p.evidence() for name, p in parts.items()}
    consensus = {e.decided for e in evidence.values() if e.decided}
    result: dict[str, ParsedDates] = {}
    for name, p in parts.items():
        ev = evidence[name]
        chosen, problem = order, None
        if chosen is None:
            if ev.day_first and ev.month_first:
                problem = mixed_message(ev.day_first, ev.month_first)
            elif ev.decided:
                chosen = ev.decided
            elif ev.ambiguous:
                if len(consensus) == 1:
                    chosen = next(iter(consensus))
                else:
                    problem = ambiguous_message(ev.ambiguous)
        dates, bad = p.finish(chosen)
        if problem is not None:
            # the whole column is reported once; its numeric cells are not also reported one by one
            numeric = p.rest.filter(pl.col("fixed").is_null() & pl.col("a").is_not_null())["_idx"]
            if numeric.len():
                dates = dates.scatter(numeric, None)
                bad = bad.scatter(numeric, False)
        result[name] = ParsedDates(dates, bad, problem)
    return result


def parse_dates(text: pl.Series, *, order: str | None = None, epoch1904: bool = False) -> ParsedDates:
    """Parse one text column of dates (see :func:`parse_date_columns`)."""
    return parse_date_columns({text.name: text}, order=order, epoch1904=epoch1904)[text.name]
