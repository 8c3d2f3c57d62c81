"""People and how to reach them: the owner rule for names, and each person's contact details.

A person is matched to owners by the owner rule of DOMAIN.md section 2, rule 9: "Smith,
John" is John Smith, and case and spacing are ignored. :func:`person_key` is that rule for
one name, :func:`person_key_expr` the same for a column.

>>> person_key("Smith,  John") == person_key("john smith")
True
>>> person_key("Ann Lee / Bob Stone")
'ann lee / bob stone'
"""

from __future__ import annotations

import polars as pl

_WORD = r"\S+"


def person_key(name: str | None) -> str | None:
    """Return the key that matches a person's name to owners (None for a blank name).

    Spacing is collapsed, "Last, First" becomes "First Last" (a comma between two names of
    two or more words each is two people and stays), and the result is in lower case.
    One name at a time through :func:`person_key_expr`, so both always agree.

    Examples
    --------
    >>> person_key(" Whitfield,Dana ")
    'dana whitfield'
    >>> person_key("Ann Lee, Bob Stone")
    'ann lee, bob stone'
    >>> person_key("   ") is None
    True
    """
    if name is None:
        return None
    key = pl.select(person_key_expr(pl.lit(name, dtype=pl.String))).item()
    return None if key is None else str(key)


def person_key_expr(name: pl.Expr) -> pl.Expr:
    """:func:`person_key` of every value of a String column (null for blanks)."""
    collapsed = name.str.replace_all(r"\s+", " ").str.strip_chars()
    last = collapsed.str.extract(r"^([^,]*),", 1).str.strip_chars()
    first = collapsed.str.extract(r",([^,]*)$", 1).str.strip_chars()

    def words(part: pl.Expr) -> pl.Expr:
        return part.str.count_matches(_WORD)

    swap = (
        (collapsed.str.count_matches(",") == 1)
        & (words(last) >= 1)
        & (words(first) >= 1)
        & ~((words(last) >= 2) & (words(first) >= 2))
    )
    text = pl.when(swap).then(pl.concat_str(first, pl.lit(" "), last)).otherwise(collapsed)
    key = text.str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
    return pl.when(key == "").then(pl.lit(None, pl.String)).otherwise(key)


#: Columns of :func:`contacts`.
CONTACT_COLUMNS = pl.Schema(
    {
        "person_key": pl.String(),
        "name": pl.String(),
        "email": pl.String(),
        "chat": pl.String(),
    }
)


def contacts(people: pl.DataFrame) -> pl.DataFrame:
    """Return one row per person of a ``people`` table, keyed by :func:`person_key`.

    Blank e-mail and chat cells are null; when two rows are the same person (ingest refuses
    that within one upload, but rows carried forward may differ in spelling) the first
    row with an e-mail address wins.
    """
    blank_to_null = [
        pl.when(pl.col(c).str.strip_chars() == "").then(None).otherwise(pl.col(c).str.strip_chars()).alias(c)
        for c in ("email", "chat")
    ]
    return (
        people.with_columns(*blank_to_null, person_key_expr(pl.col("name")).alias("person_key"))
        .filter(pl.col("person_key").is_not_null())
        .sort(pl.col("email").is_null(), maintain_order=True)
        .unique("person_key", keep="first", maintain_order=True)
        .select(list(CONTACT_COLUMNS))
        .cast(CONTACT_COLUMNS)
    )
