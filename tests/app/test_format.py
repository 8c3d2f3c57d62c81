"""The dashboard's formatters of a KPI row's values, read from a row as a dict (ui/format.py)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from ui import format as fmt


@pytest.mark.parametrize(
    ("value", "text"),
    [(2.0179, "2.018"), (95, "95.0"), (12_345.6, "12,346"), (-0.5, "-0.500"), (None, "-"), ("n/a", "-")],
)
def test_a_kpi_number_is_written_as_the_sentences_write_it_and_no_number_as_a_dash(value: object, text: str) -> None:
    assert fmt.kpi_number(value) == text


def test_a_kpi_number_carries_its_unit() -> None:
    assert fmt.kpi_number(0.0321, "USD/mile") == "0.032 USD/mile"


@pytest.mark.parametrize(
    ("change", "delta"),
    [(0.0321, "+0.032"), (-3.0, "-3.000"), (0.0, 0), (1e-12, 0), (None, None), ("x", None)],
)
def test_a_kpi_delta_is_signed_zero_when_unchanged_and_none_without_a_number(change: object, delta: object) -> None:
    assert fmt.kpi_delta(change) == delta


def test_a_day_is_written_for_people_and_no_date_as_a_dash() -> None:
    assert fmt.day(date(2026, 6, 8)) == "8 Jun 2026"
    assert fmt.day(date(2026, 6, 8), year=False) == "8 Jun"
    assert fmt.day(None) == "-"
    assert fmt.day("2026-06-08") == "-"


def test_the_values_of_a_kpi_row_read_as_a_dict_format_as_the_typed_values_do() -> None:
    row = pl.DataFrame(
        {"projected": [1.23456], "change": [None], "target_date": [date(2026, 12, 31)]},
        schema={"projected": pl.Float64, "change": pl.Float64, "target_date": pl.Date},
    ).row(0, named=True)
    assert (fmt.kpi_number(row["projected"]), fmt.kpi_delta(row["change"]), fmt.day(row["target_date"])) == (
        "1.235",
        None,
        "31 Dec 2026",
    )
