"""Frames the dashboard prepares once per snapshot, so that a page rerun reads instead of computes.

Splitting owner strings into people is the slow part of the reporting-credibility views at
scale (a regular expression per row; about 2 s over 100,000 reports). An owner string
names the same people in every row, and a portfolio has a few thousand distinct owners,
so :func:`with_person_keys` splits each distinct owner once. :func:`reports_naming` then
picks, for one drill-down row, the reports of the people its owner names: every report
:func:`~kpi_engine.engine.credibility.reporting_sentences` looks at, so the sentences it
writes from them are those it writes from the whole history.

>>> indexed = with_person_keys(reports)                      # doctest: +SKIP
>>> reporting_sentences(reports_naming(indexed, "Priya Raman"), "Priya Raman")  # doctest: +SKIP
"""

from __future__ import annotations

import polars as pl

from kpi_engine.core.owners import owner_names, person_key, person_key_expr, split_owner

#: The column :func:`with_person_keys` adds: the keys of the people a report's owner names.
PERSON_KEYS = "person_keys"


def with_person_keys(reports: pl.DataFrame) -> pl.DataFrame:
    """Return ``reports`` with :data:`PERSON_KEYS`: the person keys its ``owner`` names.

    Each distinct owner string is split once (:func:`~kpi_engine.core.owners.owner_names`,
    :func:`~kpi_engine.core.owners.person_key_expr`); a blank owner names nobody (an
    empty list).
    """
    owners = (
        reports.select("owner")
        .unique()
        .filter(pl.col("owner").is_not_null())
        .with_columns(owner_names(pl.col("owner")).alias("_person"))
        .explode("_person")
        .with_columns(person_key_expr(pl.col("_person")).alias("_key"))
        .group_by("owner")
        .agg(pl.col("_key").drop_nulls().unique().sort().alias(PERSON_KEYS))
    )
    return reports.join(owners, on="owner", how="left").with_columns(
        pl.col(PERSON_KEYS).fill_null(pl.lit([], dtype=pl.List(pl.String)))
    )


def reports_naming(indexed: pl.DataFrame, owner: str | None) -> pl.DataFrame:
    """Return the reports (without :data:`PERSON_KEYS`) that name anyone ``owner`` names.

    Parameters
    ----------
    indexed
        Reports with their person keys (:func:`with_person_keys`).
    owner
        An owner string, e.g. a drill-down row's ``owner``; None or blank names nobody.

    Returns
    -------
    pl.DataFrame
        The reports in their original order and columns; none when ``owner`` names nobody.
    """
    keys = sorted({key for name in split_owner(owner) if (key := person_key(name)) is not None})
    wanted = pl.col(PERSON_KEYS).list.set_intersection(pl.lit(keys, dtype=pl.List(pl.String))).list.len() > 0
    return indexed.filter(wanted if keys else pl.lit(False)).drop(PERSON_KEYS)
