"""How many people an owner field names (DOMAIN.md section 2, rule 9)."""

from __future__ import annotations

import itertools
import re

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


#: An owner string that names one part with one comma segment: no separator, no comma, no "and".
_PLAIN = r"^[^;/&+|\n,]*$"


def owner_problems(owners: pl.Series) -> pl.Series:
    """:func:`owner_problem` of each string of ``owners``, the common plain names checked cheaply.

    A plain name (no separator, comma or "and") names one person unless it is blank or
    only credentials; only the other strings take the full rule of :func:`owner_count`.
    """
    frame = owners.rename("owner").to_frame().with_row_index("_at")
    text = pl.col("owner")
    plain = text.is_not_null() & text.str.contains(_PLAIN) & ~text.str.contains(r"(?i)\sand\s")
    simple = frame.filter(plain)
    stripped = pl.col("owner").str.strip_chars()
    simple = simple.select(
        "_at",
        pl.when((stripped == "") | _is_credential(stripped))
        .then(pl.lit("no owner"))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias("problem"),
    )
    rest = frame.filter(~plain.fill_null(False))
    if rest.height == 0:
        return simple["problem"].rename(owners.name)
    rest = rest.select("_at", owner_problem(pl.col("owner")).alias("problem"))
    return pl.concat([simple, rest]).sort("_at")["problem"].rename(owners.name)


def split_owner(text: str | None) -> list[str]:
    """Return the people one owner string names, by the rule of :func:`owner_count`.

    "Smith, John" reads "John Smith"; credentials after a comma are dropped; spacing is
    collapsed and spelling kept.

    >>> split_owner("Ann Lee / Bob Stone")
    ['Ann Lee', 'Bob Stone']
    >>> split_owner("Smith, John")
    ['John Smith']
    >>> split_owner("Ann Lee, PhD, MBA")
    ['Ann Lee']
    >>> split_owner("Ann Lee, Bob Stone and Jo Park")
    ['Ann Lee', 'Bob Stone', 'Jo Park']
    """
    if not text:
        return []
    parts = re.sub(_SEPARATORS, "|", re.sub(r"(?i)\s+and\s+", "|", text)).split("|")
    people: list[str] = []
    for part in parts:
        segments = [" ".join(s.split()) for s in part.split(",")]
        segments = [s for s in segments if s and not _is_credential_text(s)]
        if not segments:
            continue
        groups = [[segments[0]]]
        for before, segment in itertools.pairwise(segments):
            if len(before.split()) >= 2 and len(segment.split()) >= 2:
                groups.append([segment])
            else:
                groups[-1].append(segment)
        for group in groups:
            people.append(f"{group[1]} {group[0]}" if len(group) == 2 else " ".join(group))
    return people


def _is_credential_text(segment: str) -> bool:
    """True for a comma segment made only of credentials and suffixes, as :func:`_is_credential`."""
    bare = segment.replace(".", "").lower()
    return re.sub(_CREDENTIAL_WORD, "", bare).strip() == "" and bool(segment.strip())


def owner_names(owner: pl.Expr) -> pl.Expr:
    """Return the list of people an owner string names (see :func:`split_owner`); blank names nobody."""
    return owner.map_elements(split_owner, return_dtype=pl.List(pl.String), skip_nulls=False)


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
