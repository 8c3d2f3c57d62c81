"""Propagating every run's slips through the dependency levels on int32 day numbers."""

from __future__ import annotations

import numpy as np

from kpi_engine.engine.graph import DependencyGraph

#: Simulated finishes are held at or below this day number (int32 with room for any lag
#: or duration added to it); :data:`~kpi_engine.engine.schedule.LATEST_DAY` is far below.
FINISH_CAP = 1 << 29


def propagate_runs(graph: DependencyGraph, own: np.ndarray, fixed: np.ndarray, slips: np.ndarray) -> np.ndarray:
    """Propagate every run's slips through the dependency levels, in place: finishes ``(milestones, runs)``.

    The same rule as :func:`kpi_engine.engine.graph.propagate` (a milestone finishes at the
    latest of its own date and each predecessor's finish plus the edge's days, then its
    slip is added; fixed milestones keep their own date), on int32 day numbers with runs
    as the second axis, one vectorised step per topological level. ``slips`` (int32) is
    overwritten with the finishes and returned. Finishes are held at or below
    :data:`FINISH_CAP` (far past any calendar) so that no chain of slips overflows int32.

    Parameters
    ----------
    graph
        The snapshot's dependency graph.
    own
        Each milestone's own earliest finish, day numbers ``(milestones,)``.
    fixed
        Milestones that neither slip nor follow their predecessors.
    slips
        Extra days per (milestone, run), int32, at least 0.
    """
    own32 = np.minimum(own, FINISH_CAP).astype(np.int32)
    finish = slips
    finish[fixed] = 0
    np.minimum(finish, FINISH_CAP, out=finish)
    finish += own32[:, None]
    for edges in graph.edge_slices:
        src, dst = graph.src[edges], graph.dst[edges]
        if src.size == 0:
            continue
        candidate = finish[src]
        candidate += graph.weight[edges].astype(np.int32)[:, None]
        # edges are sorted by successor within a level: one reduceat per level
        starts = np.flatnonzero(np.r_[True, dst[1:] != dst[:-1]])
        targets = dst[starts]
        free = ~fixed[targets]
        best = np.maximum.reduceat(candidate, starts, axis=0)[free]
        targets = targets[free]
        # a milestone is updated once, at its own level: its finish so far is its own date plus its slip
        current = finish[targets]
        best -= own32[targets][:, None]
        best += current
        np.maximum(current, best, out=current)
        np.minimum(current, FINISH_CAP, out=current)
        finish[targets] = current
    return finish
