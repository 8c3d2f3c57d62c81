"""Per-run figures: projected KPI values, value at risk to the cent, criticality."""

from __future__ import annotations

import numpy as np

from kpi_engine.whatif.simulation.run_inputs import LinkArrays, PlanFigures, ramp_in_place, ramp_share, segments, subset

#: Number of (run x link) cells computed at once: keeps each temporary near 2 MB (in cache, and no fresh pages per chunk).
CHUNK_CELLS = 1 << 18


#: Same tolerance as :func:`kpi_engine.engine.kpis.kpi_projection`: float noise is not a miss.
MISS_TOLERANCE = 1e-9


def moving_links(links: LinkArrays, finish: np.ndarray, deterministic: np.ndarray) -> np.ndarray:
    """Whether each link's milestone finishes off its deterministic date in some run.

    The other links add nothing to a run's difference from the reference (their per-run
    figures are the reference's own), so only these enter the (runs x links) arrays.
    """
    linked = np.unique(links.milestone)
    steady = np.empty(linked.size, dtype=bool)
    block = max(1, CHUNK_CELLS // max(1, finish.shape[1]))  # a block of rows at a time: the copy stays in cache
    for lo in range(0, linked.size, block):
        at = linked[lo : lo + block]
        rows = finish[at]
        steady[lo : lo + block] = (rows.min(axis=1) == deterministic[at]) & (rows.max(axis=1) == deterministic[at])
    moving = np.ones(finish.shape[0], dtype=bool)
    moving[linked[steady]] = False
    return moving[links.milestone]


def per_run_figures(
    links: LinkArrays,
    moving: np.ndarray,
    finish: np.ndarray,
    deterministic: np.ndarray,
    reference: PlanFigures,
    k_target: np.ndarray,
    k_lower: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-run figures from finishes ``(milestones, runs)``; KPIs in rank order.

    Returns the projected value ``(KPI rank, run)``, the value at risk per run, in how
    many runs each linked milestone is critical and those milestones' indices. ``moving``
    is :func:`moving_links`.

    Only links whose milestone moves off its deterministic finish in some run enter the
    (runs x links) arrays; the others keep the reference's figures in every run (they add
    nothing to a run's difference from it) and are hurt, or not, in the runs where their
    KPI misses.
    """
    n_kpis, runs = reference.projected.size, finish.shape[1]
    by_milestone = np.argsort(links.milestone, kind="stable")
    in_milestone_order = np.empty_like(by_milestone)
    in_milestone_order[by_milestone] = np.arange(by_milestone.size)
    m_starts, m_with_links = segments(links.milestone[by_milestone])
    later = _later_links(m_starts, by_milestone.size)
    mov, steady = np.flatnonzero(moving), np.flatnonzero(~moving)
    sub = subset(links, mov)
    kpi_starts, kpi_ranks = segments(sub.rank)
    gain = reference.gain[:, mov]
    link_value_at_risk = reference.link_value_at_risk[:, mov]
    target_eps, start_eps = sub.target + sub.eps, sub.start + sub.eps
    # days counted run from counted_from to the target (inclusive); none when the target comes first
    last_counted = np.maximum(sub.target + 1.0, sub.counted_from)
    no_negative_values = bool((sub.value_per_week >= 0).all())
    reach_at_target = ramp_share(sub.target - sub.baseline + sub.eps, sub.span)

    # steady links: their finish is the deterministic one in every run
    still = subset(links, steady)
    f_still = deterministic[still.milestone].astype(np.float64)[None, :]
    still_at_target = ramp_share(still.target + still.eps - f_still, still.span)
    still_reach = ramp_share(still.target - still.baseline + still.eps, still.span)
    still_hurts = (f_still > still.baseline) & (np.abs(still.delta * (still_reach - still_at_target)) > 1e-12)
    hurting = steady[still_hurts[0]]
    projected = np.empty((runs, n_kpis))
    value_at_risk = np.empty(runs)
    critical = np.zeros(m_with_links.size, dtype=np.int64)
    chunk = max(1, CHUNK_CELLS // max(1, mov.size))
    for lo in range(0, runs, chunk):
        hi = min(runs, lo + chunk)
        # (runs, moving links) in one copy: the cast writes the transposed rows straight into place
        f = finish[sub.milestone, lo:hi].T.astype(np.float64, order="C")
        at_target = ramp_in_place(np.subtract(target_eps, f), sub.span)
        at_start = ramp_in_place(np.subtract(start_eps, f), sub.span)
        change = np.subtract(at_target, at_start)
        change *= sub.delta
        change -= gain
        value = np.repeat(reference.projected[None, :], hi - lo, axis=0)
        if kpi_starts.size:
            value[:, kpi_ranks] += np.add.reduceat(change, kpi_starts, axis=1)
        del change
        projected[lo:hi] = value
        misses = np.where(k_lower, value - k_target, k_target - value) > MISS_TOLERANCE
        # each link's value to the cent, as link_figures counts it
        lost = np.maximum(f, sub.counted_from)  # np.clip with array bounds, the same values, faster
        np.minimum(lost, last_counted, out=lost)
        lost -= sub.counted_from
        lost *= sub.value_per_week
        lost /= 7.0
        _cents_in_place(lost, no_negative_values)
        lost -= link_value_at_risk
        value_at_risk[lo:hi] = reference.value_at_risk + lost.sum(axis=1)
        del lost
        # in milestone order: each linked milestone's links side by side
        hurts = np.zeros((hi - lo, links.milestone.size), dtype=bool)
        gap = np.subtract(reach_at_target, at_target, out=at_target)
        gap *= sub.delta
        np.abs(gap, out=gap)
        moved_hurts = gap > 1e-12
        moved_hurts &= f > sub.baseline
        moved_hurts &= misses[:, sub.rank]
        hurts[:, in_milestone_order[mov]] = moved_hurts
        hurts[:, in_milestone_order[hurting]] = misses[:, links.rank[hurting]]
        if m_starts.size:
            critical += _segments_any(hurts, m_starts, later)
    return projected.T, value_at_risk, critical, m_with_links


def _later_links(starts: np.ndarray, n_links: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each k >= 1: the segments with more than k links, and the column of each one's k-th link.

    ``starts`` are the segments' first columns (as from :func:`segments`), ``n_links`` all columns.
    """
    lengths = np.diff(np.r_[starts, n_links])
    longest = int(lengths.max()) if lengths.size else 0
    later = []
    for k in range(1, longest):
        longer = np.flatnonzero(lengths > k)
        later.append((longer, starts[longer] + k))
    return later


def _segments_any(flags: np.ndarray, starts: np.ndarray, later: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """In how many rows each segment of columns (first columns ``starts``, the rest ``later``) holds a True.

    ``np.logical_or.reduceat`` along rows pays per segment (most hold one or two links);
    taking every segment's first column and or-ing in its second, third, ... column for the
    segments that have one is about five times faster.
    """
    hit = flags[:, starts]
    for segment, column in later:
        hit[:, segment] |= flags[:, column]
    return np.count_nonzero(hit, axis=0)


def _cents_in_place(amounts: np.ndarray, non_negative: bool = False) -> np.ndarray:
    """:func:`kpi_engine.core.money.cents_array` without temporaries (the same float operations).

    With ``non_negative`` (every amount at least 0) the sign handling is skipped.
    """
    sign = None if non_negative else np.signbit(amounts)
    if sign is not None:
        np.abs(amounts, out=amounts)
    amounts *= 100
    amounts += 0.5
    np.floor(amounts, out=amounts)
    amounts /= 100
    if sign is not None:
        np.negative(amounts, out=amounts, where=sign)
    return amounts
