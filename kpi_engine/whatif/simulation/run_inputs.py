"""The links, KPIs and deterministic figures every run is measured against, as arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from kpi_engine.core.money import cents_array, round_cents
from kpi_engine.core.portfolio import Portfolio
from kpi_engine.engine.kpis import kpi_projection, latest_actuals, link_figures
from kpi_engine.engine.schedule import Schedule, days


def segments(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start offsets of runs of equal values in sorted ``keys``, and the value of each run."""
    if keys.size == 0:
        return np.zeros(0, dtype=np.int64), keys
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return starts, keys[starts]


@dataclass(frozen=True)
class LinkArrays:
    """The resolvable links as row vectors ``(1, L)``, sorted by KPI (latest target first), then input order.

    Runs are rows and links columns in the per-run arrays: sums per KPI and per milestone
    are then ``reduceat`` along contiguous rows, about three times faster than down columns.
    Ramps are written so that one expression serves both kinds of link with the same float
    operations as :func:`kpi_engine.engine.kpis.ramp`: ``clip((elapsed + eps) / span, 0, 1)`` with
    ``span = ramp_days, eps = 0`` for a ramp (exactly ``elapsed / ramp_days``), and
    ``span = 1e-9, eps = 0.5`` for none (0 before delivery, 1 from the day of delivery).
    """

    milestone: np.ndarray
    rank: np.ndarray
    delta: np.ndarray
    span: np.ndarray
    eps: np.ndarray
    value_per_week: np.ndarray
    baseline: np.ndarray
    target: np.ndarray
    start: np.ndarray
    counted_from: np.ndarray


def ramp_share(elapsed_plus_eps: np.ndarray, span: np.ndarray) -> np.ndarray:
    """The share of a link's movement reached: ``clip(elapsed_plus_eps / span, 0, 1)`` (see :class:`LinkArrays`)."""
    share = elapsed_plus_eps / span
    return np.clip(share, 0.0, 1.0, out=share)


def ramp_in_place(elapsed_plus_eps: np.ndarray, span: np.ndarray) -> np.ndarray:
    """:func:`ramp_share` in place, on ``elapsed_plus_eps`` (the same float operations)."""
    elapsed_plus_eps /= span
    return np.clip(elapsed_plus_eps, 0.0, 1.0, out=elapsed_plus_eps)


@dataclass(frozen=True)
class PlanFigures:
    """The deterministic figures each run is measured against, KPIs in rank order.

    Runs are computed as the reference plus the sum of their per-link differences from it,
    so a run that equals the deterministic schedule reproduces the engine's own figures
    bit for bit, whatever order the engine summed its links in.
    """

    projected: np.ndarray  # (KPIs,) kpi_projection's values
    start_value: np.ndarray  # (KPIs,) the value at the latest actual (or the baseline)
    gain: np.ndarray  # (1, L) each link's KPI movement by the target
    value_at_risk: float  # link_figures' total
    link_value_at_risk: np.ndarray  # (1, L)


def subset(links: LinkArrays, columns: np.ndarray) -> LinkArrays:
    """The links at ``columns`` (indices into the link axis), in the same order."""
    return LinkArrays(
        milestone=links.milestone[columns],
        rank=links.rank[columns],
        **{
            name: getattr(links, name)[:, columns]
            for name in ("delta", "span", "eps", "value_per_week", "baseline", "target", "start", "counted_from")
        },
    )


def kpi_sums(values: np.ndarray, kpi_starts: np.ndarray, kpi_ranks: np.ndarray, n_kpis: int) -> np.ndarray:
    """Per row, the sum of ``values`` (rows x links, links grouped by KPI) for each KPI rank; 0 for a KPI without links."""
    out = np.zeros((values.shape[0], n_kpis))
    if kpi_starts.size:
        out[:, kpi_ranks] = np.add.reduceat(values, kpi_starts, axis=1)
    return out


@dataclass(frozen=True)
class RankedKpis:
    """Each KPI's start, target and direction (``start``, in input order) and the same ranked latest target first.

    ``ranked`` is ``start[order]``: ``order[rank]`` is the KPI's row (see :func:`per_run_figures`).
    """

    start: pl.DataFrame
    order: np.ndarray
    ranked: pl.DataFrame


def ranked_kpis(portfolio: Portfolio) -> RankedKpis:
    """Per KPI: where it starts (latest actual, else baseline), its target and direction, ranked."""
    kpis = portfolio.kpis
    start = kpis.join(
        latest_actuals(portfolio.kpi_actuals, portfolio.as_of), on="kpi_id", how="left", maintain_order="left"
    ).select(
        days(pl.coalesce("actual_date", "period_start")).alias("a"),
        pl.coalesce("actual_value", "baseline_value").alias("v"),
        days(pl.col("target_date")).alias("t"),
        days(pl.col("period_start")).alias("ps"),
        pl.col("target_value"),
        (pl.col("direction") == "lower_is_better").alias("lower"),
    )
    order = np.argsort(-start["t"].to_numpy(), kind="stable")
    return RankedKpis(start, order, start[order])


def plan_figures(
    portfolio: Portfolio, schedule: Schedule, deterministic: np.ndarray, links: LinkArrays, kpis: RankedKpis
) -> tuple[PlanFigures, pl.Series]:
    """The engine's own figures for the deterministic plan, and its projection per KPI (input order).

    Every run is measured against them, so a run that follows the plan reproduces the engine.
    """
    reference_milestones = schedule.with_finish(deterministic)
    known, positions = schedule.refs.resolvable_links(portfolio.links)
    engine_kpis = portfolio.kpis.select("kpi_id").join(
        kpi_projection(
            portfolio.kpis, portfolio.kpi_actuals, known, reference_milestones, portfolio.as_of, positions
        ).select("kpi_id", "projected"),
        on="kpi_id",
        how="left",
        maintain_order="left",
    )
    engine_value_at_risk = round_cents(
        float(link_figures(known, reference_milestones, portfolio.kpis, positions)["value_at_risk"].sum())
    )
    f_det = deterministic[links.milestone].astype(np.float64)[None, :]
    inside_det = np.maximum(np.minimum(f_det, links.target + 1.0) - links.counted_from, 0.0)
    reference = PlanFigures(
        projected=engine_kpis["projected"].to_numpy()[kpis.order],
        start_value=kpis.ranked["v"].to_numpy(),
        gain=links.delta
        * (
            ramp_share(links.target + links.eps - f_det, links.span)
            - ramp_share(links.start + links.eps - f_det, links.span)
        ),
        value_at_risk=engine_value_at_risk,
        link_value_at_risk=cents_array(links.value_per_week * inside_det / 7.0),
    )
    return reference, engine_kpis["projected"]


def link_arrays(
    portfolio: Portfolio, milestones: pl.DataFrame, ranked_ids: pl.Series, ranked: pl.DataFrame
) -> LinkArrays:
    """The resolvable links as row vectors, sorted by KPI rank then input order."""
    index = pl.DataFrame(
        {"milestone_id": milestones["milestone_id"], "_m": np.arange(milestones.height, dtype=np.int64)}
    )
    kpi_rank = pl.DataFrame({"kpi_id": ranked_ids, "_k": np.arange(ranked_ids.len(), dtype=np.int64)})
    links = (
        portfolio.links.with_row_index("_row")
        .join(index, on="milestone_id")
        .join(kpi_rank, on="kpi_id")
        .join(milestones.select("milestone_id", days(pl.col("baseline_finish")).alias("_bf")), on="milestone_id")
        .sort("_k", "_row")
    )
    rank = links["_k"].to_numpy()

    def column(values: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype=np.float64)[None, :]

    ramp_days = links["ramp_days"].to_numpy()
    has_ramp = ramp_days > 0
    baseline = column(links["_bf"].to_numpy())
    return LinkArrays(
        milestone=links["_m"].to_numpy(),
        rank=rank,
        delta=column(links["kpi_delta"].to_numpy()),
        span=column(np.where(has_ramp, ramp_days, 1e-9)),
        eps=column(np.where(has_ramp, 0.0, 0.5)),
        value_per_week=column(links["value_per_week"].to_numpy()),
        baseline=baseline,
        target=column(ranked["t"].to_numpy()[rank]),
        start=column(ranked["a"].to_numpy()[rank]),
        counted_from=np.maximum(baseline, column(ranked["ps"].to_numpy()[rank])),
    )
