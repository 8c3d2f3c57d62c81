"""The downstream cone of a what-if change: only the milestones a change can reach are propagated again.

A slider recomputes a scenario many times on one snapshot. The snapshot's own finishes
and the row of every milestone id are kept per prepared schedule (:func:`baseline`), and
a scenario's finishes start from them: a milestone outside the cone of the changed
milestones (the changed ones and everything downstream of them) keeps its finish, and
inside the cone the rule of :func:`kpi_engine.engine.graph.propagate` runs again, level by
level, over the edges into the cone only.

>>> after, cone = propagate_cone(schedule.graph, baseline(schedule).finish, own, fixed, extra, changed)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kpi_engine.engine.graph import DependencyGraph
from kpi_engine.engine.schedule import Schedule
from kpi_engine.whatif.kept import kept


@dataclass(frozen=True)
class Baseline:
    """What every scenario on one schedule starts from.

    Attributes
    ----------
    finish
        The snapshot's computed finishes (day numbers, read-only), in the schedule's order.
    position
        The row of each milestone id in the schedule.
    """

    finish: np.ndarray
    position: dict[str, int]


def baseline(schedule: Schedule) -> Baseline:
    """Return the schedule's :class:`Baseline`, computed once per schedule and kept while it lives."""
    return kept(schedule, "baseline", lambda: _baseline(schedule))


def _baseline(schedule: Schedule) -> Baseline:
    finish = schedule.finish()
    finish.setflags(write=False)
    ids = schedule.milestones["milestone_id"].to_list()
    # the first row of a repeated id wins, as a search from the top would find it
    position = {mid: i for i, mid in reversed(list(enumerate(ids)))}
    return Baseline(finish, position)


def propagate_cone(
    graph: DependencyGraph,
    before: np.ndarray,
    own: np.ndarray,
    fixed: np.ndarray,
    extra: np.ndarray,
    changed: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the finishes after a change, and the boolean cone of milestones it can reach.

    Equal to ``propagate(graph, own, fixed, extra)`` when ``before`` is the propagation of
    inputs that differ from ``own``/``fixed``/``extra`` only at ``changed``.

    Parameters
    ----------
    graph
        The snapshot's dependency graph.
    before
        The finishes before the change (day numbers).
    own, fixed, extra
        The changed propagation inputs (see :func:`kpi_engine.engine.graph.propagate`).
    changed
        Boolean per milestone: its own date, fixedness or extra days differ from ``before``'s inputs.
    """
    cone = changed.copy()
    after = before.copy()
    nodes = np.flatnonzero(changed)
    if nodes.size == 0:
        return after, cone
    after[nodes] = own[nodes] + np.where(fixed[nodes], 0, extra[nodes])
    lowest = int(graph.node_level[nodes].min())
    # edge_slices[k - 1] holds the edges into level k: levels below the lowest change stay as they are
    for edges in graph.edge_slices[max(lowest - 1, 0) :]:
        src, dst = graph.src[edges], graph.dst[edges]
        reached = cone[src]
        if reached.any():
            # a milestone joins the cone at its own level: it starts again from its own date
            joined = dst[reached]
            cone[joined] = True
            after[joined] = own[joined] + np.where(fixed[joined], 0, extra[joined])
        inside = cone[dst]
        if not inside.any():
            continue
        src, dst, weight = src[inside], dst[inside], graph.weight[edges][inside]
        candidate = after[src] + weight
        # edges are sorted by successor within a level: one reduceat per level
        starts = np.flatnonzero(np.r_[True, dst[1:] != dst[:-1]])
        targets = dst[starts]
        best = np.maximum.reduceat(candidate, starts) + extra[targets]
        free = ~fixed[targets]
        targets, best = targets[free], best[free]
        after[targets] = np.maximum(after[targets], best)
    return after, cone
