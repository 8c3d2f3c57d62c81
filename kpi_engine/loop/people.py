"""People and how to reach them: the owner rule for names, and each person's contact details.

A person is matched to owners by the owner rule of DOMAIN.md section 2, rule 9: "Smith,
John" is John Smith, and case and spacing are ignored. :func:`person_key` (one name) and
:func:`person_key_expr` (a column) hold that rule, in :mod:`kpi_engine.core.owners`.

>>> person_key("Smith,  John") == person_key("john smith")
True
>>> person_key("Ann Lee / Bob Stone")
'ann lee / bob stone'
"""

from __future__ import annotations

import polars as pl

from kpi_engine.core.owners import person_key, person_key_expr

__all__ = ["CONTACT_COLUMNS", "contacts", "person_key", "person_key_expr"]


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
