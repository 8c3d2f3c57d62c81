"""How many people an owner field names (DOMAIN.md section 2, rule 9)."""

from __future__ import annotations

import polars as pl

#: Separators that always stand between two people (" and " is handled first).
_SEPARATORS = r"[;/&+|\n]"

#: Credentials and name suffixes written after a comma: "Ann Lee, PhD, MBA" is one person.
#: Compared without dots and case, word by word (a segment of only these words is dropped).
CREDENTIALS = (
    "jr",
    "sr",
    "ii",
    "iii",
    "iv",
    "v",
    "phd",
    "dphil",
    "mba",
    "md",
    "do",
    "dds",
    "jd",
    "llm",
    "esq",
    "cpa",
    "cfa",
    "acca",
    "aca",
    "fca",
    "pmp",
    "pgmp",
    "csm",
    "pe",
    "rn",
    "msc",
    "bsc",
    "ma",
    "ba",
    "ms",
    "bs",
    "meng",
    "beng",
    "obe",
    "mbe",
    "cbe",
)
_CREDENTIAL_WORD = r"\b(?:" + "|".join(CREDENTIALS) + r")\b"


def _is_credential(segment: pl.Expr) -> pl.Expr:
    """True for a comma segment made only of credentials and suffixes ("PhD", "M.B.A.", "Jr.")."""
    bare = segment.str.replace_all(".", "", literal=True).str.to_lowercase()
    return bare.str.replace_all(_CREDENTIAL_WORD, "").str.strip_chars().eq("") & segment.str.contains(r"\S")


def _people_in_part(part: pl.Expr) -> pl.Expr:
    """People in one part between separators: commas split only between full names.

    After dropping credential segments, each comma whose both neighbours hold two or more
    words separates two people ("Ann Lee, Bob Stone"); any other comma belongs to one name
    ("Smith, John").
    """
    segments = (
        part.str.split(",")
        .list.eval(pl.element().str.strip_chars())
        .list.eval(pl.element().filter((pl.element() != "") & ~_is_credential(pl.element())))
    )
    full = segments.list.eval(pl.element().str.count_matches(r"\S+") >= 2)
    splits = full.list.eval((pl.element() & pl.element().shift(-1)).fill_null(False).cast(pl.Int64)).list.sum()
    return pl.when(segments.list.len() == 0).then(0).otherwise(1 + splits)


def owner_count(owner: pl.Expr) -> pl.Expr:
    """Return the number of people an owner string names (0 for blank).

    Examples: "Priya Raman" -> 1, "Smith, John" -> 1, "Ann Lee, PhD, MBA" -> 1,
    "Ann Lee / Bob Stone" -> 2, "Ann Lee, Bob Stone" -> 2, "" -> 0.
    """
    parts = (
        owner.fill_null("")
        .str.replace_all(r"(?i)\s+and\s+", "|")
        .str.replace_all(_SEPARATORS, "|")
        .str.split("|")
        .list.eval(_people_in_part(pl.element()))
    )
    return parts.list.sum().fill_null(0).cast(pl.Int64)


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
