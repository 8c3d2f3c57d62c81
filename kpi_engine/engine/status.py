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
        hurts = (
            milestones.select("milestone_id")
            .join(hurting, on="milestone_id", how="left", maintain_order="left")["_hurts_missed_kpi"]
            .fill_null(False)
            .to_numpy()
        )
    else:
        m, k = positions
        hurting_links = (np.abs(links["kpi_impact"].to_numpy()) > 1e-12) & kpis["misses"].to_numpy()[k]
        hurts = np.zeros(milestones.height, dtype=bool)
        hurts[m[hurting_links]] = True
    # an unknown slip passes no threshold (a missing date: the rule cannot say late)
    slip = milestones["slip_days"].fill_null(np.iinfo(np.int64).min).to_numpy()
    code = np.select(
        [
            milestones["actual_finish"].is_not_null().to_numpy(),
            (slip > settings.red_days) | hurts,
            slip > settings.amber_days,
        ],
        [_COMPLETE, STATUS_RANK["Red"], STATUS_RANK["Amber"]],
        default=STATUS_RANK["Green"],
    )
    reported = _reported_codes(milestones["reported_status"])
    # a watermelon reports better than it is: both in the Green-Amber-Red order (Complete and Unknown are not)
    reported_rank = np.minimum(reported, _COMPLETE)
    return milestones.with_columns(
        _STATUSES.gather(code).alias("computed_status"), _REPORTED.gather(reported).alias("reported_status")
    ).with_columns(pl.Series("watermelon", (reported_rank < code) & (code < _COMPLETE)))


#: Computed statuses by code: the Green-Amber-Red ranks, then Complete.
_STATUSES = pl.Series([*sorted(STATUS_RANK, key=STATUS_RANK.__getitem__), "Complete"], dtype=pl.String)
_COMPLETE = len(STATUS_RANK)
#: Normalised reported statuses by code: the computed ones, then Unknown.
_REPORTED = pl.Series([*_STATUSES, "Unknown"], dtype=pl.String)


def _reported_codes(reported: pl.Series) -> np.ndarray:
    """The code in :data:`_REPORTED` of each reported status (:func:`normalise_status`), worked out once per distinct text."""
    distinct = reported.unique()
    normalised = distinct.to_frame().select(normalise_status(pl.col(reported.name))).to_series()
    codes = normalised.replace_strict(_REPORTED, pl.int_range(len(_REPORTED), eager=True), return_dtype=pl.Int64)
    return reported.replace_strict(distinct, codes, return_dtype=pl.Int64).to_numpy()
