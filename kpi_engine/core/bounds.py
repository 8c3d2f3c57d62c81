"""The ranges of values the program accepts, declared once (docs/choices.md explains each).

Ingest refuses a cell outside its range (:mod:`kpi_engine.ingest.validate`), the what-if
inputs refuse a change outside it (:mod:`kpi_engine.whatif.scenarios`), and the command
line refuses an option outside it. Every range is far wider than real plans need and
narrow enough that every figure derived from it can be dated, counted to the cent and
formatted: a forecast of 9999-12-31 with a successor would otherwise fall in the year
10000, and a lag of 10**12 days would wrap around to the year -2,000,000.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

#: The earliest and latest dates a cell, a snapshot date or a what-if date may hold.
#: A placeholder such as 9999-12-31 ("no date") is refused: leave the cell blank instead.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)
#: Dates people write for "no date"; named in the message so that the fix is obvious.
PLACEHOLDER_DATES = (date(9999, 12, 31), date(2999, 12, 31), date(1899, 12, 30), date(1899, 12, 31))

#: The latest date the engine can compute (Python's last date). A computed finish is later
#: than LATEST_DATE only through chains of lags and durations or what-if slips: ingest
#: refuses an upload whose computed finishes pass LATEST_DATE; a what-if that passes this
#: one is refused; the Monte Carlo simulation stops its random finishes here.
LATEST_COMPUTED_DATE = date(9999, 12, 31)

#: Most days of a dependency's lag (a negative lag is a lead) and of a link's ramp.
MAX_LAG_DAYS = 3650
MAX_RAMP_DAYS = 3650
#: Most days of one what-if slip and of the top of a Monte Carlo slip range.
MAX_SLIP_DAYS = 3650
#: Most value a link gains per week: 10**9 keeps every value at risk exact to the cent.
MAX_VALUE_PER_WEEK = 1e9
#: Most money of a budget, a workaround's cost or the escalation threshold.
MAX_MONEY = 1e12
#: Largest absolute KPI value, target, actual or link delta.
MAX_KPI_VALUE = 1e12
#: Largest Monte Carlo seed (numpy accepts any; people type small ones).
MAX_SEED = 2**32 - 1
#: Most Monte Carlo runs the command line accepts.
MAX_RUNS = 1_000_000


@dataclass(frozen=True)
class Range:
    """An inclusive range of numbers and how to name it in a message."""

    low: float
    high: float
    unit: str = ""

    def describe(self) -> str:
        """The range in words: "from -3,650 to 3,650 days"."""
        unit = f" {self.unit}" if self.unit else ""
        return f"from {_number(self.low)} to {_number(self.high)}{unit}"


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,g}"


#: (table, column) -> the range its numbers must fall in. Every Date column of every table
#: must fall in EARLIEST_DATE..LATEST_DATE; percent_complete keeps its own 0-100 check.
COLUMN_RANGES: dict[tuple[str, str], Range] = {
    ("kpis", "baseline_value"): Range(-MAX_KPI_VALUE, MAX_KPI_VALUE),
    ("kpis", "target_value"): Range(-MAX_KPI_VALUE, MAX_KPI_VALUE),
    ("kpi_actuals", "value"): Range(-MAX_KPI_VALUE, MAX_KPI_VALUE),
    ("projects", "budget"): Range(0, MAX_MONEY),
    ("dependencies", "lag_days"): Range(-MAX_LAG_DAYS, MAX_LAG_DAYS, "days"),
    ("links", "kpi_delta"): Range(-MAX_KPI_VALUE, MAX_KPI_VALUE),
    ("links", "ramp_days"): Range(0, MAX_RAMP_DAYS, "days"),
    ("links", "value_per_week"): Range(0, MAX_VALUE_PER_WEEK),
}


def date_in_range(value: date) -> bool:
    """Whether a date lies in EARLIEST_DATE..LATEST_DATE."""
    return EARLIEST_DATE <= value <= LATEST_DATE
