"""How many people an owner field names (DOMAIN.md section 2, rule 9)."""

from __future__ import annotations

import polars as pl

# Separators that always split names; " and " only between words.
_SEPARATORS = r"[;/&+|\n]|\s+and\s+"
# A comma splits only when both sides have two or more words ("Smith, John" is one person).
_COMMA_BETWEEN_FULL_NAMES = r"\S+\s+\S+\s*,\s*\S+\s+\S+"


def owner_count(owner: pl.Expr) -> pl.Expr:
    """Return the number of people an owner string names (0 for blank).

    Examples: "Priya Raman" -> 1, "Smith, John" -> 1, "Ann Lee / Bob Stone" -> 2,
    "Ann Lee, Bob Stone" -> 2, "" -> 0.
    """
    parts = (
        owner.fill_null("")
        .str.replace_all(r"(?i)" + _SEPARATORS, "\x1f")
        .str.split("\x1f")
        .list.eval(pl.element().str.strip_chars().filter(pl.element().str.strip_chars() != ""))
    )
    names = parts.list.len()
    commas = parts.list.eval(
        pl.element().str.contains(_COMMA_BETWEEN_FULL_NAMES).cast(pl.Int64)
        * (pl.element().str.count_matches(",") )
    ).list.sum()
    return (names + commas).cast(pl.Int64)


def owner_problem(owner: pl.Expr) -> pl.Expr:
    """Return 'no owner', 'several owners' or null for an owner string."""
    count = owner_count(owner)
    return (
        pl.when(count == 0).then(pl.lit("no owner"))
        .when(count > 1).then(pl.lit("several owners"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
