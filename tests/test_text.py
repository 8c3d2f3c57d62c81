"""Number formatting for sentences (kpi_engine/core/text.py) agrees with Python's own formatting."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpi_engine.core.text import fixed, kpi_value, thousands


def _one(expr: pl.Expr, value: float) -> str:
    return pl.select(expr).item() if value is None else pl.DataFrame({"v": [value]}).select(expr).item()


@given(st.integers(min_value=-(10**14), max_value=10**14))
def test_thousands_matches_python_grouping(n):
    assert _one(thousands(pl.col("v")), float(n)) == f"{n:,}"


@given(st.integers(min_value=-(10**12), max_value=10**12), st.sampled_from([1, 2, 3]))
def test_fixed_matches_exact_decimal_text(n, decimals):
    value = n / 10**decimals
    sign = "-" if n < 0 else ""
    whole, frac = divmod(abs(n), 10**decimals)
    assert _one(fixed(pl.col("v"), decimals), value) == f"{sign}{whole}.{frac:0{decimals}d}"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0"),
        (0.4, "0"),
        (-0.4, "0"),
        (999.0, "999"),
        (1000.0, "1,000"),
        (-1000.0, "-1,000"),
        (1005.0, "1,005"),
        (1_234_567.8, "1,234,568"),
        (1e9, "1,000,000,000"),
    ],
)
def test_thousands_edges(value, text):
    assert _one(thousands(pl.col("v")), value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(2.0179, "2.018"), (-0.0004, "0.000"), (95.0, "95.0"), (999.94, "999.9"), (12_345.6, "12,346"), (-3.5, "-3.500")],
)
def test_kpi_value_precision_fits_the_size(value, text):
    assert _one(kpi_value(pl.col("v")), value) == text


@given(st.integers(min_value=-(10**14), max_value=10**14), st.integers(min_value=0, max_value=10**6))
def test_thousands_with_a_bound_matches_python_grouping(n, headroom):
    assert _one(thousands(pl.col("v"), largest=abs(n) + headroom), float(n)) == f"{n:,}"


@pytest.mark.parametrize("value", [999.6, -999.5, 999_999.5, 0.4])
def test_thousands_bound_allows_for_rounding_up(value):
    assert _one(thousands(pl.col("v"), largest=abs(value)), value) == f"{round(value):,}".replace("-0", "0")


def _ulps_away(value: float, steps: int) -> float:
    """``value`` moved ``steps`` representable floats up (or down, when negative)."""
    for _ in range(abs(steps)):
        value = math.nextafter(value, math.inf if steps > 0 else -math.inf)
    return value


@given(st.integers(min_value=-(10**9), max_value=10**9), st.integers(-4, 4))
def test_a_halfway_value_is_written_the_same_a_few_bits_either_side(n, steps):
    # a sum of the same numbers in another order lands a few bits above or below the true
    # value: halfway between two shown digits, it must still be written the same
    halfway = n + 0.5
    assert _one(thousands(pl.col("v")), _ulps_away(halfway, steps)) == _one(thousands(pl.col("v")), halfway)
    thousandths = n / 1000 + 0.0005
    assert _one(fixed(pl.col("v"), 3), _ulps_away(thousandths, steps)) == _one(fixed(pl.col("v"), 3), thousandths)
