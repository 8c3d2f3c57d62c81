"""Computed status and watermelons (DOMAIN.md section 2, rules 6-7)."""

from __future__ import annotations

import numpy as np
import polars as pl

from kpi_engine.core.references import Positions
from kpi_engine.core.schema import STATUS_RANK, normalise_status
from kpi_engine.core.settings import Settings


def computed_status(
    milestones: pl.DataFrame,
    links: pl.DataFrame,
    kpis: pl.DataFrame,
    settings: Settings,
    positions: Positions | None = None,
) -> pl.DataFrame:
    """Add ``computed_status``, the normalised ``reported_status`` and ``watermelon``.

    Parameters
    ----------
    milestones
        Milestones with ``slip_days``.
    links
        Links with ``kpi_impact`` (from :func:`kpi_engine.engine.kpis.link_figures`).
    kpis
        KPIs with ``misses`` (from :func:`kpi_engine.engine.kpis.kpi_projection`).
    positions
        The row of each link's milestone and KPI in ``milestones`` and ``kpis``
        (:meth:`~kpi_engine.core.references.References.resolvable_links`), to gather instead of join.
    """
    if positions is None:
        hurting = (
            links.join(kpis.select("kpi_id", "misses"), on="kpi_id")
            .filter((pl.col("kpi_impact").abs() > 1e-12) & pl.col("misses"))
            .select("milestone_id")
            .unique()
            .with_columns(pl.lit(True).alias("_hurts_missed_kpi"))
        )
        milestones = milestones.join(hurting, on="milestone_id", how="left", maintain_order="left")
    else:
        m, k = positions
        hurts = (np.abs(links["kpi_impact"].to_numpy()) > 1e-12) & kpis["misses"].to_numpy()[k]
        flags = np.zeros(milestones.height, dtype=bool)
        flags[m[hurts]] = True
        milestones = milestones.with_columns(pl.Series("_hurts_missed_kpi", flags))
    status = (
        pl.when(pl.col("actual_finish").is_not_null())
        .then(pl.lit("Complete"))
        .when((pl.col("slip_days") > settings.red_days) | pl.col("_hurts_missed_kpi"))
        .then(pl.lit("Red"))
        .when(pl.col("slip_days") > settings.amber_days)
        .then(pl.lit("Amber"))
        .otherwise(pl.lit("Green"))
    )
    rank = {k: v for k, v in STATUS_RANK.items()}
    return (
        milestones.with_columns(pl.col("_hurts_missed_kpi").fill_null(False))
        .with_columns(
            status.alias("computed_status"),
            normalise_status(pl.col("reported_status")).alias("reported_status"),
        )
        .with_columns(
            (
                pl.col("reported_status").replace_strict(rank, default=None, return_dtype=pl.Int64)
                < pl.col("computed_status").replace_strict(rank, default=None, return_dtype=pl.Int64)
            )
            .fill_null(False)
            .alias("watermelon")
        )
        .drop("_hurts_missed_kpi")
    )
