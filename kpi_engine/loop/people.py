"""People and how to reach them: the owner rule for names, e-mail addresses and chat webhooks.

A person is matched to owners by the owner rule of DOMAIN.md section 2, rule 9: "Smith,
John" is John Smith, and case and spacing are ignored. :func:`person_key` is that rule for
one name, :func:`person_key_expr` the same for a column.

>>> person_key("Smith,  John") == person_key("john smith")
True
>>> person_key("Ann Lee / Bob Stone")
'ann lee / bob stone'
>>> is_email_address("dana@example.com"), is_email_address("dana@example.com\\nBcc: x@evil.example")
(True, False)
"""

from __future__ import annotations

import re

import polars as pl

#: An address a mail server accepts and a header cannot be broken by: no spaces, quotes,
#: angle brackets, commas or line breaks; a dot in the domain. ASCII classes only, so the
#: regex engines of Python and Polars read it alike.
EMAIL_PATTERN = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+"
#: An http(s) address: a host (no user name), an optional port, then printable ASCII only.
WEBHOOK_PATTERN = r"https?://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?(?:[/?#][!-~]*)?"
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


def is_email_address(text: str | None) -> bool:
    """Return True when ``text`` is one plain e-mail address (``name@example.com``)."""
    return text is not None and re.fullmatch(EMAIL_PATTERN, text) is not None


def is_webhook_url(text: str | None) -> bool:
    """Return True when ``text`` is an http(s) address with a host and no spaces or line breaks."""
    return text is not None and re.fullmatch(WEBHOOK_PATTERN, text) is not None


def email_ok_expr(email: pl.Expr) -> pl.Expr:
    """:func:`is_email_address` of every value of a String column (null stays null)."""
    return email.str.contains(f"^(?:{EMAIL_PATTERN})$")


def webhook_ok_expr(url: pl.Expr) -> pl.Expr:
    """:func:`is_webhook_url` of every value of a String column (null stays null)."""
    return url.str.contains(f"^(?:{WEBHOOK_PATTERN})$")


#: Columns of :func:`contacts`.
CONTACT_COLUMNS: dict[str, pl.DataType] = {
    "person_key": pl.String(),
    "name": pl.String(),
    "email": pl.String(),
    "chat": pl.String(),
}


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
        .cast(CONTACT_COLUMNS)  # type: ignore[arg-type]
    )
