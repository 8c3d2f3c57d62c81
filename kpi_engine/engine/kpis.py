"""KPI impact and value at risk of each link, KPI projections and shortfalls
(DOMAIN.md section 2, rules 3-5)."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from kpi_engine.core.money import value_lost
from kpi_engine.core.references import Positions
from kpi_engine.engine.schedule import days


def ramp(elapsed: pl.Expr, ramp_days: pl.Expr) -> pl.Expr:
    """Share of a link's KPI movement realised ``elapsed`` days after delivery.

    0 before delivery, 1 at once when there is no ramp, else linear up to 1.
    """
    return (
        pl.when(elapsed < 0)
        .then(0.0)
        .when(ramp_days <= 0)
        .then(1.0)
        .otherwise(pl.min_horizontal(pl.lit(1.0), elapsed.cast(pl.Float64) / ramp_days))
    )


def _gather(frame: pl.DataFrame, rows: np.ndarray, *columns: str) -> list[pl.Series]:
    """``columns`` of ``frame`` at row positions ``rows`` (one value per position)."""
    at = pl.Series(rows)
    return [frame[c].gather(at) for c in columns]


def link_figures(
    links: pl.DataFrame, milestones: pl.DataFrame, kpis: pl.DataFrame, positions: Positions | None = None
) -> pl.DataFrame:
    """Return each resolvable link with its ``kpi_impact`` and ``value_at_risk`` (to the cent).

    Parameters
    ----------
    links
        Canonical links.
    milestones
        Milestones with ``computed_finish`` (from :func:`kpi_engine.engine.schedule.compute_schedule`).
    kpis
        Canonical KPIs.
    positions
        When given, every link's milestone and KPI exist and these are their rows in
        ``milestones`` and ``kpis`` (:meth:`~kpi_engine.core.references.References.resolvable_links`):
        rows are then gathered by position instead of joined on ids.

    Links naming an unknown milestone or KPI are left out (governance reports them).
    """
    if positions is not None:
        figures = _link_figures_at(links, milestones, kpis, positions)
        if figures is not None:
            return figures
    if positions is None:
        frame = links.join(
            milestones.select("milestone_id", "baseline_finish", "computed_finish"), on="milestone_id"
        ).join(kpis.select("kpi_id", "period_start", "target_date"), on="kpi_id")
    else:
        m, k = positions
        frame = links.with_columns(
            *_gather(milestones, m, "baseline_finish", "computed_finish"),
            *_gather(kpis, k, "period_start", "target_date"),
        )
    target = days(pl.col("target_date"))
    baseline = days(pl.col("baseline_finish"))
    finish = days(pl.col("computed_finish"))
    late = finish > baseline
    inside_days = pl.max_horizontal(
        pl.lit(0, dtype=pl.Int64),
        pl.min_horizontal(finish, target + 1) - pl.max_horizontal(baseline, days(pl.col("period_start"))),
    )
    return frame.with_columns(
        pl.when(late)
        .then(
            pl.col("kpi_delta")
            * (ramp(target - baseline, pl.col("ramp_days")) - ramp(target - finish, pl.col("ramp_days")))
        )
        .otherwise(0.0)
        .alias("kpi_impact"),
        value_lost(pl.col("value_per_week"), inside_days).alias("value_at_risk"),
    ).drop("baseline_finish", "computed_finish", "period_start", "target_date")


def _day_array(dates: pl.Series) -> np.ndarray | None:
    """Dates as whole days since 1970-01-01 (int64); None when one is missing."""
    return None if dates.null_count() else dates.cast(pl.Int32).to_numpy().astype(np.int64)


def _float_array(values: pl.Series) -> np.ndarray | None:
    """Numbers as float64; None when one is missing or not a number."""
    array = values.cast(pl.Float64).to_numpy() if not values.null_count() else None
    return None if array is None or np.isnan(array).any() else array


def ramp_array(elapsed: np.ndarray, ramp_days: np.ndarray, no_ramp: np.ndarray | None = None) -> np.ndarray:
    """:func:`ramp` on arrays (no missing values): the same shares, element by element.

    ``no_ramp``: ``ramp_days <= 0``, when the caller has it already.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.true_divide(elapsed, ramp_days, dtype=np.float64)
    np.minimum(share, 1.0, out=share)
    share[ramp_days <= 0 if no_ramp is None else no_ramp] = 1.0
    share[elapsed < 0] = 0.0  # before the KPI's effect starts, whatever the ramp
    return share


def _link_figures_at(
    links: pl.DataFrame, milestones: pl.DataFrame, kpis: pl.DataFrame, positions: Positions
) -> pl.DataFrame | None:
    """:func:`link_figures` on row positions, in numpy: None when a date or ramp is missing (the
    expressions then decide what a missing value gives)."""
    m, k = positions
    baseline_all, finish_all = _day_array(milestones["baseline_finish"]), _day_array(milestones["computed_finish"])
    start_all, target_all = _day_array(kpis["period_start"]), _day_array(kpis["target_date"])
    ramp_days, delta = _float_array(links["ramp_days"]), links["kpi_delta"].cast(pl.Float64)
    if baseline_all is None or finish_all is None or start_all is None or target_all is None or ramp_days is None:
        return None
    if delta.null_count():
        return None
    baseline, finish, target = baseline_all[m], finish_all[m], target_all[k]
    no_ramp = ramp_days <= 0
    impact = ramp_array(target - baseline, ramp_days, no_ramp)
    impact -= ramp_array(target - finish, ramp_days, no_ramp)
    impact *= delta.to_numpy()
    impact[finish <= baseline] = 0.0
    inside_days = np.maximum(0, np.minimum(finish, target + 1) - np.maximum(baseline, start_all[k]))
    value = links.select(value_lost(pl.col("value_per_week"), pl.lit(pl.Series(inside_days)))).to_series()
    return links.with_columns(pl.Series("kpi_impact", impact), value.alias("value_at_risk"))


def latest_actuals(kpi_actuals: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Return each KPI's latest actual on or before ``as_of``: ``kpi_id, actual_date, actual_value``."""
    return (
        kpi_actuals.filter(pl.col("as_of") <= as_of)
        .sort("kpi_id", "as_of")
        .group_by("kpi_id", maintain_order=True)
        .last()
        .select("kpi_id", pl.col("as_of").alias("actual_date"), pl.col("value").alias("actual_value"))
    )


def kpi_starts(kpis: pl.DataFrame, kpi_actuals: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Return the KPIs with ``actual_date`` and ``actual_value`` (null without actuals) and where
    each projection starts: ``_a``, the latest actual's date (else the period start), and ``_v``,
    its value (else the baseline).

    What :func:`project_kpis` needs; it depends on no finish, so a scenario derives it once.
    """
    start = latest_actuals(kpi_actuals, as_of)
    return kpis.join(start, on="kpi_id", how="left", maintain_order="left").with_columns(
        pl.coalesce("actual_date", "period_start").alias("_a"),
        pl.coalesce("actual_value", "baseline_value").alias("_v"),
    )


def kpi_projection(
    kpis: pl.DataFrame,
    kpi_actuals: pl.DataFrame,
    links: pl.DataFrame,
    milestones: pl.DataFrame,
    as_of: date,
    positions: Positions | None = None,
) -> pl.DataFrame:
    """Project every KPI to its target date from the computed finishes of its milestones.

    Returns the KPIs with ``actual_date``, ``actual_value`` (null without actuals),
    ``projected``, ``shortfall`` (>= 0) and ``misses``, in the order of ``kpis``. With
    ``positions`` (see :func:`link_figures`) rows are gathered by position.
    """
    return project_kpis(kpi_starts(kpis, kpi_actuals, as_of), links, milestones, positions)


def project_kpis(
    starts: pl.DataFrame, links: pl.DataFrame, milestones: pl.DataFrame, positions: Positions | None = None
) -> pl.DataFrame:
    """:func:`kpi_projection` from the KPIs' starting points (:func:`kpi_starts`), in the order of ``starts``.

    With ``positions``, the rows of each link's milestone in ``milestones`` and of its KPI in ``starts``.
    """
    finish = days(pl.col("computed_finish"))
    move = (
        pl.col("kpi_delta")
        * (
            ramp(days(pl.col("target_date")) - finish, pl.col("ramp_days"))
            - ramp(days(pl.col("_a")) - finish, pl.col("ramp_days"))
        )
    ).alias("_moves")
    if positions is None:
        pairs = links.join(milestones.select("milestone_id", "computed_finish"), on="milestone_id").join(
            starts.select("kpi_id", "_a", "target_date"), on="kpi_id"
        )
        moves = pairs.group_by("kpi_id").agg(move.sum())
        frame = starts.join(moves, on="kpi_id", how="left", maintain_order="left")
    else:
        # each KPI's moves summed over its links' rows: no group-by on ids
        m, k = positions
        pairs = links.with_columns(*_gather(milestones, m, "computed_finish"), *_gather(starts, k, "_a", "target_date"))
        each = pairs.select(move.fill_null(0.0)).to_series().to_numpy()
        frame = starts.with_columns(pl.Series("_moves", np.bincount(k, weights=each, minlength=starts.height)))
    projected = pl.col("_v") + pl.col("_moves").fill_null(0.0)
    gap = (
        pl.when(pl.col("direction") == "lower_is_better")
        .then(projected - pl.col("target_value"))
        .otherwise(pl.col("target_value") - projected)
    )
    # a tiny tolerance keeps float noise (1e-15) from turning a met target into a miss
    shortfall = pl.when(gap > 1e-9).then(gap).otherwise(0.0)
    return frame.with_columns(
        projected.alias("projected"), shortfall.alias("shortfall"), (shortfall > 0).alias("misses")
    ).drop("_a", "_v", "_moves")
