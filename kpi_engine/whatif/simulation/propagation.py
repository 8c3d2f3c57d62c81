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
        level = _level_edges(graph, edges, fixed)
        if level is None:
            continue
        targets, first, later = level
        # the latest predecessor finish plus lag, from each target's first edge and then its second, third, ...
        best = finish[graph.src[first]]
        best += graph.weight[first].astype(np.int32)[:, None]
        for segment, edge in later:
            candidate = finish[graph.src[edge]]
            candidate += graph.weight[edge].astype(np.int32)[:, None]
            np.maximum(candidate, best[segment], out=candidate)
            best[segment] = candidate
        # a milestone is updated once, at its own level: its finish so far is its own date plus its slip
        current = finish[targets]
        best -= own32[targets][:, None]
        best += current
        np.maximum(current, best, out=current)
        np.minimum(current, FINISH_CAP, out=current)
        finish[targets] = current
    return finish


def _level_edges(
    graph: DependencyGraph, edges: slice, fixed: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]] | None:
    """One level's free successors, the first edge into each, and for each k >= 1 the k-th edge of those with more.

    Edges are sorted by successor within a level. ``np.maximum.reduceat`` along the
    milestone axis pays per segment and walks the runs with a stride; most successors
    have one or two predecessors, so taking each one's first edge and the maximum with its
    second, third, ... edge for those that have one is several times faster (and exact:
    the maximum of whole days does not depend on the order).
    """
    dst = graph.dst[edges]
    if dst.size == 0:
        return None
    starts = np.flatnonzero(np.r_[True, dst[1:] != dst[:-1]])
    lengths = np.diff(np.r_[starts, dst.size])
    free = ~fixed[dst[starts]]
    starts, lengths = starts[free], lengths[free]
    if starts.size == 0:
        return None
    offset = edges.start or 0
    later = []
    for k in range(1, int(lengths.max())):
        longer = np.flatnonzero(lengths > k)
        later.append((longer, offset + starts[longer] + k))
    return dst[starts], offset + starts, later
