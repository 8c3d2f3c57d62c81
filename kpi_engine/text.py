"""Number and date formatting as Polars expressions, for sentences people read."""

from __future__ import annotations

import polars as pl


def _pad3(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.String).str.zfill(3)


def thousands(value: pl.Expr) -> pl.Expr:
    """Format a number rounded to a whole, with thousands separators: 1234567.8 -> "1,234,568"."""
    n = value.round(0).cast(pl.Int64)
    a = n.abs()
    sign = pl.when(n < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    b, m, k, u = a // 1_000_000_000, (a // 1_000_000) % 1000, (a // 1000) % 1000, a % 1000
    body = (
        pl.when(a >= 1_000_000_000).then(pl.format("{},{},{},{}", b, _pad3(m), _pad3(k), _pad3(u)))
        .when(a >= 1_000_000).then(pl.format("{},{},{}", m, _pad3(k), _pad3(u)))
        .when(a >= 1000).then(pl.format("{},{}", k, _pad3(u)))
        .otherwise(u.cast(pl.String))
    )
    return pl.concat_str(sign, body)


def fixed(value: pl.Expr, decimals: int) -> pl.Expr:
    """Format a number with exactly ``decimals`` decimals: fixed(1.95, 3) -> "1.950"."""
    scale = 10**decimals
    n = (value.abs() * scale).round(0).cast(pl.Int64)
    sign = pl.when((value < 0) & (n > 0)).then(pl.lit("-")).otherwise(pl.lit(""))
    whole = (n // scale).cast(pl.String)
    if decimals == 0:
        return pl.concat_str(sign, whole)
    frac = (n % scale).cast(pl.String).str.zfill(decimals)
    return pl.concat_str(sign, whole, pl.lit("."), frac)


def kpi_value(value: pl.Expr) -> pl.Expr:
    """Format a KPI value with precision fitting its size: 2.0179 -> "2.018", 95 -> "95.0"."""
    a = value.abs()
    return (
        pl.when(a < 10).then(fixed(value, 3))
        .when(a < 1000).then(fixed(value, 1))
        .otherwise(thousands(value))
    )
