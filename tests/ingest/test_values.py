"""Numbers, flags and id checks as people and tools write them."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi_engine.ingest.values import is_excel_error, is_rounded_id, parse_numbers, split_list, to_flag


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1200000", 1_200_000.0, id="plain"),
        pytest.param("1,200,000", 1_200_000.0, id="thousands-commas"),
        pytest.param("80%", 80.0, id="percent"),
        pytest.param("80 %", 80.0, id="percent-space"),
        pytest.param("$ 1,200", 1_200.0, id="dollar"),
        pytest.param("1 200 EUR", 1_200.0, id="code-and-space-groups"),
        pytest.param("(1,200)", -1_200.0, id="accounting-negative"),
        pytest.param("-0.05", -0.05, id="negative-decimal"),
        pytest.param("1e-3", 0.001, id="scientific"),
        pytest.param("12,345.67", 12_345.67, id="thousands-and-decimals"),
    ],
)
def test_numbers_with_decimal_point(text: str, expected: float) -> None:
    assert parse_numbers(pl.Series([text])).to_list() == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1.200.000,50", 1_200_000.5, id="dots-group-comma-decimal"),
        pytest.param("2,10", 2.1, id="comma-decimal"),
        pytest.param("1.200", 1_200.0, id="dot-groups-thousands"),
        pytest.param("2.10", 2.1, id="dot-not-a-group"),
        pytest.param("€ 1.200,00", 1_200.0, id="euro"),
        pytest.param("95,5%", 95.5, id="percent"),
    ],
)
def test_numbers_in_decimal_comma_files(text: str, expected: float) -> None:
    assert parse_numbers(pl.Series([text]), decimal_comma=True).to_list() == [expected]


@pytest.mark.parametrize("text", ["abc", "1,5", "1.2.3", "inf", "NaN", "--1", "12 apples"])
def test_not_numbers_give_null(text: str) -> None:
    assert parse_numbers(pl.Series([text])).to_list() == [None]


@settings(deadline=None, max_examples=60)
@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False).map(lambda x: round(x, 2)))
def test_formatted_numbers_round_trip(value: float) -> None:
    us = f"{value:,.2f}"
    european = us.replace(",", "_").replace(".", ",").replace("_", ".")
    assert parse_numbers(pl.Series([us])).item() == pytest.approx(value)
    assert parse_numbers(pl.Series([european]), decimal_comma=True).item() == pytest.approx(value)


def test_flags() -> None:
    values = pl.Series(["Yes", "no", "TRUE", "0", "x", None, "maybe"])
    assert pl.select(to_flag(pl.lit(values))).to_series().to_list() == [True, False, True, False, True, None, None]


def test_excel_errors_and_rounded_ids() -> None:
    values = pl.Series(["#N/A", "#DIV/0!", "#REF!", "#hashtag", "1.21143E+15", "1211430000000000", None])
    assert pl.select(is_excel_error(pl.lit(values))).to_series().to_list() == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]
    assert pl.select(is_rounded_id(pl.lit(values))).to_series().to_list() == [
        False,
        False,
        False,
        False,
        True,
        False,
        False,
    ]


def test_split_list() -> None:
    values = pl.Series(["3FS+2 days, 5;4", "", None])
    assert pl.select(split_list(pl.lit(values))).to_series().to_list() == [["3FS+2 days", "5", "4"], [], None]
