"""Summaries over the runs: milestone finishes, KPI percentiles, value at risk, criticality."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from kpi_engine.core.money import cents_array, round_cents
from kpi_engine.whatif.simulation.quantiles import inverted_cdf_quantiles, order_statistics
from kpi_engine.whatif.simulation.run_figures import MISS_TOLERANCE

#: (milestone x run) cells sorted at once for the milestone percentiles: a block's copy stays in cache.
SORT_BLOCK_CELLS = 1 << 18


@dataclass(frozen=True)
class ValueAtRiskDistribution:
    """Total value at risk over all links: per run (``totals``), percentiles and mean
    (higher is worse), and the deterministic figure of the unchanged plan."""

    totals: np.ndarray
    p50: float
    p80: float
    p95: float
    mean: float
    deterministic: float


def _confidence(values: np.ndarray, lower_is_better: np.ndarray) -> list[np.ndarray]:
    """Per row, the values reached or beaten in 50%, 80% and 95% of the runs (one sort for all)."""
    shares = (0.5, 0.8, 0.95)
    picked = inverted_cdf_quantiles(values.copy(), shares + tuple(1.0 - q for q in shares))
    return [np.where(lower_is_better, picked[i], picked[i + len(shares)]) for i in range(len(shares))]


def milestone_summary(
    milestones: pl.DataFrame, fixed: np.ndarray, deterministic: np.ndarray, finish: np.ndarray, chosen: pl.DataFrame
) -> pl.DataFrame:
    """Per milestone: deterministic finish, p50/p80/p95 finishes over the runs, and the distribution used.

    Milestones that cannot move keep their deterministic finish (no quantile over equal values).
    """
    varying = np.flatnonzero(~fixed)
    quantiles = np.repeat(deterministic[None, :], 3, axis=0)
    if varying.size:
        kth = order_statistics(finish.shape[1], (0.5, 0.8, 0.95))
        block = max(1, SORT_BLOCK_CELLS // finish.shape[1])
        for lo in range(0, varying.size, block):
            rows = varying[lo : lo + block]
            moving = finish[rows]
            moving.sort(axis=1)  # numpy's vectorised sort: faster than selecting at three positions
            quantiles[:, rows] = moving[:, kth].T
    return milestones.select("milestone_id", "name", "project_id").with_columns(
        pl.Series("computed_finish", deterministic.astype(np.int32)).cast(pl.Date),
        *[
            pl.Series(name, quantiles[i].astype(np.int32)).cast(pl.Date)
            for i, name in enumerate(["p50_finish", "p80_finish", "p95_finish"])
        ],
        chosen["distribution"],
        chosen["distribution_used"],
    )


def kpi_summary(
    kpis: pl.DataFrame, start: pl.DataFrame, projected: np.ndarray, engine_projected: pl.Series
) -> pl.DataFrame:
    """Per KPI: the deterministic projection, the share of runs meeting the target, percentiles and mean."""
    lower, target = start["lower"].to_numpy(), start["target_value"].to_numpy()
    gap = np.where(lower[:, None], projected - target[:, None], target[:, None] - projected)
    confidence = _confidence(projected, lower)
    return (
        kpis.select("kpi_id", "name", "unit", "direction", "target_value")
        .with_columns(
            pl.Series("p_meet", (gap <= MISS_TOLERANCE).mean(axis=1)),
            *[pl.Series(name, column) for name, column in zip(("p50", "p80", "p95"), confidence, strict=True)],
            pl.Series("mean", projected.mean(axis=1)),
            engine_projected,
        )
        .select(
            "kpi_id", "name", "unit", "direction", "target_value", "projected", "p_meet", "p50", "p80", "p95", "mean"
        )
    )


def value_at_risk_summary(value_at_risk: np.ndarray, deterministic: float) -> ValueAtRiskDistribution:
    """Total value at risk per run, to the cent, with its percentiles, mean and the plan's own figure."""
    totals = cents_array(value_at_risk)
    var_q = inverted_cdf_quantiles(totals[None, :].copy(), (0.5, 0.8, 0.95))[:, 0]
    return ValueAtRiskDistribution(
        totals,
        float(var_q[0]),
        float(var_q[1]),
        float(var_q[2]),
        round_cents(float(totals.mean())),
        deterministic,
    )


def criticality_frame(
    milestones: pl.DataFrame, fixed: np.ndarray, m_with_links: np.ndarray, critical: np.ndarray, runs: int
) -> pl.DataFrame:
    """Per linked milestone: the share of runs in which it hurts a KPI that misses; highest first."""
    return (
        milestones[m_with_links]
        .select("milestone_id", "name", "project_id")
        .with_columns(pl.Series("open", ~fixed[m_with_links]), pl.Series("criticality", critical / runs))
        .sort(["criticality", "milestone_id"], descending=[True, False])
    )
