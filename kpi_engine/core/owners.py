"""How many people an owner field names (DOMAIN.md section 2, rule 9)."""

from __future__ import annotations

import polars as pl

# A comma splits only when both sides have two or more words ("Smith, John" is one person).
_COMMA_BETWEEN_FULL_NAMES = r"\S+\s+\S+\s*,\s*\S+\s+\S+"


def owner_count(owner: pl.Expr) -> pl.Expr:
    """Return the number of people an owner string names (0 for blank).

    Examples: "Priya Raman" -> 1, "Smith, John" -> 1, "Ann Lee / Bob Stone" -> 2,
    "Ann Lee, Bob Stone" -> 2, "" -> 0.
    """
    text = owner.fill_null("").str.replace_all(r"(?i)\s+and\s+", "|")
    # one match per segment between separators that holds anything but blanks
    names = text.str.count_matches(r"[^;/&+|\n]*[^;/&+|\n\s][^;/&+|\n]*").cast(pl.Int64)
    commas = (
        pl.when(text.str.contains(_COMMA_BETWEEN_FULL_NAMES))
        .then(text.str.count_matches(",").cast(pl.Int64))
        .otherwise(0)
    )
    return names + commas


def owner_problem(owner: pl.Expr) -> pl.Expr:
    """Return 'no owner', 'several owners' or null for an owner string."""
    count = owner_count(owner)
    return (
        pl.when(count == 0)
        .then(pl.lit("no owner"))
        .when(count > 1)
        .then(pl.lit("several owners"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


def owner_names(owner: pl.Expr) -> pl.Expr:
    """Return the list of people an owner string names, by the rule of :func:`owner_count`.

    "Smith, John" is one person and reads "John Smith"; "Ann Lee / Bob Stone" is two; a blank
    owner names nobody (an empty list). Names keep their spelling, with spacing collapsed.
    """
    text = owner.fill_null("").str.replace_all(r"(?i)\s+and\s+", "|")
    text = pl.when(text.str.contains(_COMMA_BETWEEN_FULL_NAMES)).then(text.str.replace_all(",", "|")).otherwise(text)
    parts = text.str.replace_all(r"[;/&+\n]", "|").str.split("|")
    return parts.list.eval(
        pl.element()
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
        .str.replace(r"^([^,]+?)\s*,\s*(.+)$", "${2} ${1}")
        .filter(pl.element().str.strip_chars() != "")
    )


def person_key(name: pl.Expr) -> pl.Expr:
    """Return the key that matches one person's name however it is spelled (case and spacing ignored)."""
    return name.str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
