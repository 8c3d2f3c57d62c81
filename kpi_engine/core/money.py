"""Money to the cent (DOMAIN.md section 2, rule 4): every amount is rounded to cents as it is made.

Floating point alone makes 125,000 per week for 14 days 249,999.99999999997 (or
250,000.00000000003), so a threshold of 250,000 would decide by noise. Every amount the
engine derives is rounded to cents where it is computed, and every sum of amounts is
rounded again, so that thresholds compare exact cents and every output shows them.
Amounts stay floats: at most 10**13 they hold every cent exactly.
"""

from __future__ import annotations

import numpy as np
import polars as pl

#: Decimals of a money amount.
CENTS = 2


def cents(amount: pl.Expr) -> pl.Expr:
    """Round a money expression to cents (halves away from zero, as people round money)."""
    return amount.round(CENTS, mode="half_away_from_zero")


def round_cents(amount: float) -> float:
    """Round one amount to cents (halves away from zero)."""
    return float(np.copysign(np.floor(abs(amount) * 100 + 0.5) / 100, amount)) if amount == amount else amount


def cents_array(amounts: np.ndarray) -> np.ndarray:
    """Round an array of amounts to cents (halves away from zero)."""
    return np.copysign(np.floor(np.abs(amounts) * 100 + 0.5) / 100, amounts)


def value_lost(value_per_week: pl.Expr, days: pl.Expr) -> pl.Expr:
    """``value_per_week / 7`` for each of ``days`` days, to the cent.

    Multiplying before dividing keeps whole weeks exact: 125,000 per week for 14 days is
    exactly 250,000.
    """
    return cents(value_per_week * days.cast(pl.Float64) / 7.0)
