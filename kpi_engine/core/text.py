"""Number and date formatting as Polars expressions, for sentences people read."""

from __future__ import annotations

import polars as pl

# Sums of the same numbers in another order differ in their last bits (13.7665 may come out
# as 13.766499999999999): rounding first to this many decimals drops that noise, so a value
# halfway between two shown digits is shown the same whatever order the rows came in.
_NOISE_DECIMALS = 6


def _digits(expr: pl.Expr, width: int) -> pl.Expr:
    """Zero-padded ``width`` digits of a non-negative integer below 10**width (7 -> "007")."""
    # adding 10**width and dropping the leading "1" is cheaper than str.zfill
    return (expr + 10**width).cast(pl.String).str.slice(1)


def thousands(value: pl.Expr, largest: float | None = None) -> pl.Expr:
    """Format a number rounded to a whole, with thousands separators: 1234567.8 -> "1,234,568".

    ``largest``, when given, is at least the largest absolute value to format: fewer
    digit groups are then built (most money fits in three), which is cheaper.
    """
    n = value.round(_NOISE_DECIMALS).round(0).cast(pl.Int64)
    a = n.abs()
    groups = 6 if largest is None else (len(str(int(abs(largest)) + 1)) - 1) // 3
    if groups == 0:
        body = a.cast(pl.String)
    else:
        # every group padded ("0,001,234,568"), then the leading zeros and commas dropped
        padded = [_digits((a // 10 ** (3 * g)) % 1000, 3) for g in range(groups - 1, -1, -1)]
        body = pl.concat_str(a // 10 ** (3 * groups), *padded, separator=",").str.strip_chars_start("0,")
    sign = pl.when(n < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return pl.concat_str(sign, body).replace("", "0")


def fixed(value: pl.Expr, decimals: int) -> pl.Expr:
    """Format a number with exactly ``decimals`` decimals: fixed(1.95, 3) -> "1.950"."""
    scale = 10**decimals
    n = (value.abs() * scale).round(_NOISE_DECIMALS).round(0).cast(pl.Int64)
    sign = pl.when((value < 0) & (n > 0)).then(pl.lit("-")).otherwise(pl.lit(""))
    whole = (n // scale).cast(pl.String)
    if decimals == 0:
        return pl.concat_str(sign, whole)
    return pl.concat_str(sign, whole, pl.lit("."), _digits(n % scale, decimals))


def kpi_value(value: pl.Expr) -> pl.Expr:
    """Format a KPI value with precision fitting its size: 2.0179 -> "2.018", 95 -> "95.0"."""
    a = value.abs()
    return pl.when(a < 10).then(fixed(value, 3)).when(a < 1000).then(fixed(value, 1)).otherwise(thousands(value))
